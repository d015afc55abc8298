/**
 * What a mailbox's owner is told (docs/behaviour.md §6): the mailbox passed its warning share of the
 * most messages it may hold, the mailbox is full (callers hear "mailbox full" and leave nothing), or
 * messages will be deleted soon by the domain's retention. Storage publishes them (JetStream, stream
 * VM_MAILBOX_NOTICES) where it sees them happen; the mail sender mails the owner when the notice
 * knows an address, web posts them to the domain's webhooks.
 */
import { z } from 'zod';
import type { JetStreamClient } from '@nats-io/jetstream';
import { MailboxSchema } from './ids.js';
import { IsoTimeSchema, MailboxCountsSchema, MailboxOwnerSchema } from './storage.js';
import { SUBJECTS } from './subjects.js';
import { encodeJson } from './rpc.js';
import { ServiceError, toServiceError } from './errors.js';

export const NOTICE_KINDS = ['mailbox-almost-full', 'mailbox-full', 'messages-expiring'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

const NoticeBase = {
  /** Unique per notice, stable when the notice is published again (JetStream de-duplication, webhook delivery ids). */
  noticeId: z.string().regex(/^[A-Za-z0-9._-]{8,128}$/, 'is not a notice id'),
  mailbox: MailboxSchema,
  at: IsoTimeSchema,
  /** Where the owner is mailed, when the profile said (a caller's P-App-Param `eml`). */
  owner: MailboxOwnerSchema.optional(),
  counts: MailboxCountsSchema,
};

export const MailboxNoticeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('mailbox-almost-full'),
    ...NoticeBase,
    /** The most messages the mailbox may hold. */
    limit: z.number().int().positive(),
  }),
  z.strictObject({ kind: z.literal('mailbox-full'), ...NoticeBase, limit: z.number().int().positive() }),
  z.strictObject({
    kind: z.literal('messages-expiring'),
    ...NoticeBase,
    /** How many messages retention deletes at `expiresAt` at the latest (new and saved ones). */
    expiring: z.number().int().positive(),
    /** When the first of them goes. */
    expiresAt: IsoTimeSchema,
  }),
]);
export type MailboxNotice = z.infer<typeof MailboxNoticeSchema>;

/** Publishes a notice; the same `noticeId` twice (a retried change) is de-duplicated by JetStream. */
export async function publishNotice(js: JetStreamClient, notice: MailboxNotice): Promise<void> {
  const checked = MailboxNoticeSchema.parse(notice);
  try {
    await js.publish(SUBJECTS.mailbox.notice, encodeJson(checked), { msgID: checked.noticeId });
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot publish notice ${checked.noticeId}: ${toServiceError(error).message}`, { cause: error });
  }
}
