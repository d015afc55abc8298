/** Environment variables of the leave-a-message call flow (documented in the README). */
import { z } from 'zod';
import { SipUriSchema, TRANSFER_METHODS } from '@sipvm/contracts';
import { env } from '@sipvm/service';

/** What becomes of the message recorded before the caller pressed `0`. */
export const OPERATOR_RECORDING = ['keep', 'drop'] as const;

/** A silence length: 0 (silence does not end a recording) or at least half a second. */
export const maxSilenceMs = () => env.integer(0, 600_000).refine((ms) => ms === 0 || ms >= 500, 'must be 0 (off) or at least 500');

/** An ISO 3166-1 alpha-2 country code, upper case (`DE`, `GB`, `US`). */
export const countryCode = () => z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 country code such as DE or US');

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
};

export type CallConfig = z.output<z.ZodObject<typeof callConfig>>;
