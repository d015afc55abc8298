/** Environment variables of the leave-a-message call flow (documented in the README). */
import { z } from 'zod';
import { SipUriSchema, TRANSFER_METHODS } from '@sipvm/contracts';
import { countryCode, env, maxSilenceMs, OPERATOR_RECORDING, quotaWarnPercent } from '@sipvm/service';

export const callConfig = {
  /** Longest message; at the limit the caller hears a beep and a goodbye, and the message is kept whole. */
  VM_MAX_MESSAGE_MS: env.integer(5_000, 3_600_000).default(120_000),
  /** Silence this long ends a recording (closing prompt, hang-up, message kept without it); 0: off. */
  VM_MAX_SILENCE_MS: maxSilenceMs().default(0),
  /** Where `0` transfers the caller when neither P-App-Param `opr` nor the domain names an operator. */
  VM_OPERATOR_URI: SipUriSchema.optional(),
  /** How: `refer` (the caller's side calls the operator) or `bridge` (the platform calls and connects). */
  VM_OPERATOR_TRANSFER: env.oneOf(TRANSFER_METHODS).default('refer'),
  /** The message recorded before `0`: `keep` (handed over like any message) or `drop`. */
  VM_OPERATOR_RECORDING: env.oneOf(OPERATOR_RECORDING).default('keep'),
  /** JSON file of per-domain settings (operator, transfer, recording, silence) over the ones above. */
  VM_DOMAINS_FILE: env.string().optional(),
  /** The country of callers' numbers for domains that name none (VM_DOMAINS_FILE `country`); none: only global numbers are written out. */
  VM_COUNTRY: countryCode().optional(),
  /**
   * How long a mailbox's greeting, once looked up, is used without asking storage again (call/greetings.ts);
   * storage's announcements end it at once when a greeting changes. 0: ask for every call.
   */
  VM_GREETING_CACHE_MS: env.integer(0, 3_600_000).default(60_000),
  /**
   * The most messages a mailbox holds when neither P-App-Param `max` nor the domain says; 0: no
   * limit. Checked when a call starts: the caller of a full mailbox hears "mailbox full" instead of the beep.
   */
  VM_MAX_MESSAGES: env.integer(0).default(0),
  /** The owner is told when the mailbox passes this share of its most messages (and when it is full). */
  VM_QUOTA_WARN_PERCENT: quotaWarnPercent().default(90),
  /** After `#` the caller is offered to mark the message urgent (1); domains may say otherwise. */
  VM_OFFER_URGENT: env.boolean().default(true),
  /** How long the caller may think about the urgent key before the message goes as it is. */
  VM_URGENT_WAIT_MS: env.duration().pipe(z.number().min(1_000, 'must be at least 1s').max(30_000, 'must be at most 30s')).default(4_000),
};

export type CallConfig = z.output<z.ZodObject<typeof callConfig>>;
