/**
 * The durable mail outbox (SPEC §3): a mail job is a JetStream message on SUBJECTS.mail.send.
 *
 * SKETCH: the voicemail issue completes templates and delivery; the shape is fixed here so the
 * producer (voicemail) and the sender agree.
 */
import { z } from 'zod';
import { EmailAddressSchema, LanguageSchema, MailboxIdSchema } from './ids.js';
import { StagedAudioSchema } from './audio.js';

export const MailJobSchema = z.strictObject({
  /** Unique per mail; the JetStream de-duplication id, and the Message-ID's left part. */
  mailId: z.string().regex(/^[A-Za-z0-9._-]{8,128}$/),
  to: EmailAddressSchema,
  did: MailboxIdSchema,
  language: LanguageSchema.optional(),
  /** Template variables (SPEC §3): user, sender, domain, ts, duration, … */
  variables: z.record(z.string(), z.string().max(2048)),
  attachment: StagedAudioSchema.optional(),
});
export type MailJob = z.infer<typeof MailJobSchema>;
