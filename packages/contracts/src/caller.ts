/**
 * The caller as a person (docs/behaviour.md §2): the name the caller's From header gave, the
 * number the sender URI holds (`tel:`, `user=phone`, or a user part of digits), and whether the
 * caller withheld their identity (RFC 3323). Signaling takes it from the INVITE; voicemail makes
 * the number E.164 with the domain's country and writes it as the mailbox's people read numbers;
 * storage keeps it with the message, and mail, API, webhook and inbox show it.
 */
import { z } from 'zod';

const TextSchema = z
  .string()
  .min(1)
  .max(64)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  .regex(/^[^\x00-\x1f\x7f]+$/, 'must not contain control characters');

export const CallerSchema = z.strictObject({
  /** The From header's display name, when there was one. */
  name: TextSchema.optional(),
  /** The number: E.164 (`+4930123456`) when it is one or the domain's country made it one, else the digits as sent. */
  number: z
    .string()
    .regex(/^\+?[0-9*#]{1,32}$/, 'must be a phone number (digits, an optional leading +)')
    .optional(),
  /** The number written for people (`030 123456`, `+44 20 7946 0000`), when there is a number. */
  numberText: z
    .string()
    .min(1)
    .max(40)
    .regex(/^[0-9+*#() -]+$/, 'must be a written phone number')
    .optional(),
  /** The caller asked for privacy (RFC 3323) or called anonymously: shown as "withheld", nothing else kept. */
  withheld: z.boolean(),
});
export type Caller = z.infer<typeof CallerSchema>;
