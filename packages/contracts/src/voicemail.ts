/**
 * The hand-over from a finished recording to storage and mail (docs/behaviour.md §2 "a message is never
 * lost once recorded").
 *
 * When a recording ends — `#`, hang-up, maximum length — the voicemail application publishes a
 * deposit on JetStream (stream VM_DEPOSITS). From then on the message is durable twice over: the
 * audio is staged (staging.ts) and the deposit is in a stream. A voicemail instance takes
 * it (durable consumer, explicit ack), discards it if too short or silent, stores it (mode box or
 * both, idempotent by depositId) and queues the mail (mode voicemail or both, de-duplicated by
 * the same id), and only then acknowledges it. An instance that dies half-way leaves the deposit
 * to be taken again; every step is idempotent, so nothing is stored or mailed twice.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md
 */
import { z } from 'zod';
import { CallerSchema } from './caller.js';
import type { JetStreamClient } from '@nats-io/jetstream';
import { DomainIdSchema, EmailAddressSchema, LanguageSchema, MailboxIdSchema, MailboxSchema, SenderSchema } from './ids.js';
import { StagedAudioSchema } from './staging.js';
import { CodecSchema, IsoTimeSchema } from './storage.js';
import { VoicemailModeSchema } from './call.js';
import { ExtraVariablesSchema } from './mail.js';
import { SUBJECTS } from './subjects.js';
import { describeIssues, ServiceError, toServiceError } from './errors.js';
import { encodeJson } from './rpc.js';

export const DepositIdSchema = z.string().regex(/^[A-Za-z0-9._-]{8,128}$/, 'is not a deposit id');

export const DepositSchema = z
  .strictObject({
    /** Unique per recording (the staged audio's name serves well): the idempotency key of every step. */
    depositId: DepositIdSchema,
    mode: VoicemailModeSchema.exclude(['ann']),
    /** Mailbox as the proxy named it (usr/dom) and its canonical ids (uid/did). */
    user: MailboxIdSchema,
    domain: DomainIdSchema,
    uid: MailboxIdSchema,
    did: DomainIdSchema,
    email: EmailAddressSchema.optional(),
    language: LanguageSchema.optional(),
    sender: SenderSchema,
    caller: CallerSchema.optional(),
    urgent: z.boolean().default(false),
    recordedAt: IsoTimeSchema,
    durationMs: z.number().int().nonnegative(),
    codec: CodecSchema,
    audio: StagedAudioSchema,
    /** As measured by media (RecordingSchema); without it the audio is read to measure it. */
    loudestDbfs: z.number().min(-120).max(0).optional(),
    extra: ExtraVariablesSchema.default({}),
    /** The mailbox's most messages, checked when the call started; passed on to storage to tell the owner. */
    maxMessages: z.number().int().nonnegative().optional(),
    /** The owner is told when the mailbox passes this share of `maxMessages` (and when it is full). */
    quotaWarnPercent: z.number().int().min(1).max(100).optional(),
  })
  .refine((d) => d.mode === 'box' || d.email !== undefined, { message: 'modes voicemail and both need an e-mail address', path: ['email'] });
export type Deposit = z.infer<typeof DepositSchema>;
export type DepositInput = z.input<typeof DepositSchema>;

/** What became of a deposit, for observers (tests, audit, CDRs). Core NATS, best effort. */
export const DepositOutcomeSchema = z.strictObject({
  depositId: DepositIdSchema,
  /** Whose message it was (uid/did), so an observer can tell outcomes apart. */
  mailbox: MailboxSchema.optional(),
  outcome: z.enum(['stored', 'mailed', 'stored-and-mailed', 'discarded-short', 'discarded-silent', 'failed']),
  messageId: z.string().optional(),
  reason: z.string().max(1024).optional(),
  at: IsoTimeSchema,
});
export type DepositOutcome = z.infer<typeof DepositOutcomeSchema>;

/** Hands a recording over. Publishing the same depositId twice is de-duplicated by JetStream. */
export async function publishDeposit(js: JetStreamClient, deposit: DepositInput): Promise<{ duplicate: boolean }> {
  const checked = DepositSchema.safeParse(deposit);
  if (!checked.success) throw new ServiceError('bad-request', `deposit: ${describeIssues(checked.error)}`);
  try {
    const ack = await js.publish(SUBJECTS.voicemail.deposit, encodeJson(checked.data), { msgID: checked.data.depositId });
    return { duplicate: ack.duplicate };
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot hand over recording ${checked.data.depositId}: ${toServiceError(error).message}`, { cause: error });
  }
}
