/**
 * The durable mail outbox (docs/behaviour.md §3).
 *
 * A mail job is a JetStream message on SUBJECTS.mail.send (stream VM_MAIL). It carries the facts
 * of the voice message, not a rendered mail: the mail sender owns the templates, the time zone and
 * SMTP, so an operator can fix a template or an SMTP outage and every waiting mail benefits.
 * A job that cannot be delivered within the retry budget is reported on SUBJECTS.mail.failed
 * (stream VM_MAIL_FAILED), never dropped silently.
 */
import { z } from 'zod';
import { CallerSchema } from './caller.js';
import type { JetStreamClient } from '@nats-io/jetstream';
import { DomainIdSchema, EmailAddressSchema, LanguageSchema, MailboxIdSchema, MessageIdSchema, SenderSchema } from './ids.js';
import { StagedAudioSchema } from './staging.js';
import { IsoTimeSchema, TranscriptSchema } from './storage.js';
import { SUBJECTS } from './subjects.js';
import { encodeJson } from './rpc.js';
import { ServiceError, toServiceError } from './errors.js';

export const MailIdSchema = z.string().regex(/^[A-Za-z0-9._-]{8,128}$/, 'is not a mail id');

/** Extra template variables from P-App-Param (configured keys only), e.g. `name`, `company`. */
export const ExtraVariablesSchema = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'is not a variable name'), z.string().max(512));

/**
 * A mail that tells the owner about the mailbox (notices.ts) instead of bringing a message: its
 * template is the notice's (`mailbox_almost_full`, `mailbox_full`, `messages_expiring`).
 */
export const MailNoticeSchema = z.strictObject({
  kind: z.enum(['mailbox-almost-full', 'mailbox-full', 'messages-expiring']),
  /** Messages in the mailbox now. */
  messages: z.number().int().nonnegative(),
  limit: z.number().int().positive().optional(),
  expiring: z.number().int().positive().optional(),
  expiresAt: IsoTimeSchema.optional(),
});
export type MailNotice = z.infer<typeof MailNoticeSchema>;

export const MailJobSchema = z.strictObject({
  /** Unique per mail: the JetStream de-duplication id and the Message-ID's left part. */
  mailId: MailIdSchema,
  /** The recipient (validated P-App-Param `eml`). */
  to: EmailAddressSchema,
  /** Mailbox user and domain as the proxy named them (usr/dom), and their canonical ids. */
  user: MailboxIdSchema,
  domain: DomainIdSchema,
  uid: MailboxIdSchema,
  did: DomainIdSchema,
  /** Template language (P-App-Param `lng`); the default template when absent. */
  language: LanguageSchema.optional(),
  /** The caller (P-App-Param `snd`, else the From URI). */
  sender: SenderSchema,
  /** The caller as a person, for %caller% and its kin. */
  caller: CallerSchema.optional(),
  recordedAt: IsoTimeSchema,
  durationMs: z.number().int().nonnegative(),
  /** The stored message's id in mode `both`; absent when the message is only mailed. */
  messageId: MessageIdSchema.optional(),
  /** The caller marked the message urgent: the subject says so and the mail has high importance. */
  urgent: z.boolean().optional(),
  /** A notice about the mailbox rather than a message (no attachment). */
  notice: MailNoticeSchema.optional(),
  /** The recording, as staged; the mail goes out without attachment when absent. */
  attachment: StagedAudioSchema.optional(),
  extra: ExtraVariablesSchema.default({}),
  enqueuedAt: IsoTimeSchema,
  /** What the caller said (the domain's mail waits for it), or why there is none: `%transcript%`, `%no_transcript%`. */
  transcript: TranscriptSchema.optional(),
  /**
   * The mail waits for its transcript until then: the transcriber sends it sooner, with the text;
   * at this time it goes without one, marked "no transcript" (transcription.ts).
   */
  awaitTranscriptUntil: IsoTimeSchema.optional(),
});
export type MailJob = z.infer<typeof MailJobSchema>;
export type MailJobInput = z.input<typeof MailJobSchema>;

export const MailFailedEventSchema = z.strictObject({
  mailId: MailIdSchema,
  to: EmailAddressSchema,
  did: DomainIdSchema,
  uid: MailboxIdSchema,
  attempts: z.number().int().nonnegative(),
  /** The last error, as the SMTP server or the sender put it. */
  reason: z.string().max(2048),
  /** `budget-spent` after the last retry; `rejected` when retrying cannot help (a 5xx for the recipient, a broken job). */
  outcome: z.enum(['budget-spent', 'rejected']),
  at: IsoTimeSchema,
});
export type MailFailedEvent = z.infer<typeof MailFailedEventSchema>;

/**
 * Puts a mail into the outbox. Publishing the same mailId twice (a retried hand-over) is
 * de-duplicated by JetStream, so the mail is queued once. `queueId` replaces the mailId as the
 * de-duplication id of a second job for the same mail (the transcriber's, beside the one waiting
 * for it); the sent-ledger, kept by mailId, still lets only one of them out.
 */
export async function enqueueMail(js: JetStreamClient, job: MailJobInput, options: { queueId?: string } = {}): Promise<{ duplicate: boolean }> {
  const checked = MailJobSchema.safeParse(job);
  if (!checked.success) throw new ServiceError('bad-request', `mail job: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  try {
    const ack = await js.publish(SUBJECTS.mail.send, encodeJson(checked.data), { msgID: options.queueId ?? checked.data.mailId });
    return { duplicate: ack.duplicate };
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot queue mail ${checked.data.mailId}: ${toServiceError(error).message}`, { cause: error });
  }
}
