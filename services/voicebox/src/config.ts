/** Environment variables of the voicebox and annrecorder applications (documented in the README). */
import { z } from 'zod';
import { env } from '@sipvm/service';
import { parseKeyMap } from './voicebox/keys.js';

export const voiceboxConfig = {
  /** How long the caller may stay silent where a key is expected; then goodbye and hang-up. */
  VOICEBOX_INPUT_TIMEOUT_MS: env.duration().pipe(z.number().min(1_000, 'must be at least 1s').max(600_000, 'must be at most 10m')).default(10_000),
  /** Wrong PINs in one call before goodbye. */
  VOICEBOX_PIN_TRIES: env.integer(1, 10).default(3),
  /** Wrong PINs for one mailbox (across calls, within VOICEBOX_LOCK_MS of each other) that lock it. */
  VOICEBOX_LOCK_AFTER: env.integer(1, 100).default(6),
  /** How long a locked mailbox refuses every PIN, the right one included. */
  VOICEBOX_LOCK_MS: env.duration().pipe(z.number().min(1_000, 'must be at least 1s').max(86_400_000, 'must be at most 24h')).default(900_000),
  /** Order within new and within saved messages (new always come first). */
  VOICEBOX_ORDER: env.oneOf(['newest-first', 'oldest-first'] as const).default('newest-first'),
  /** Speak time and caller before every message, or only when the caller asks (key 5). */
  VOICEBOX_ENVELOPE: env.oneOf(['on-request', 'always'] as const).default('on-request'),
  /** Key map overrides, `command=key` pairs (see src/voicebox/keys.ts), e.g. previous=9,next=7,forward=6. */
  VOICEBOX_KEYS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseKeyMap(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Time zone in which the envelope says when a message arrived. */
  VOICEBOX_TIME_ZONE: env.timeZone().default('UTC'),
  /** Longest greeting annrecorder records. */
  ANNRECORDER_MAX_GREETING_MS: env.duration().pipe(z.number().min(5_000, 'must be at least 5s').max(600_000, 'must be at most 10m')).default(120_000),
  /** A shorter recording is not offered for keeping ("too short, please try again"). */
  ANNRECORDER_MIN_GREETING_MS: env.duration().pipe(z.number().min(0).max(60_000, 'must be at most 1m')).default(1_000),
  /** The most days a temporary greeting recorded by phone plays. */
  ANNRECORDER_TEMPORARY_MAX_DAYS: env.integer(1, 3650).default(365),
  /** Longest introduction recorded before a forwarded message. */
  VOICEBOX_INTRODUCTION_MAX_MS: env.duration().pipe(z.number().min(5_000, 'must be at least 5s').max(300_000, 'must be at most 5m')).default(60_000),
  /** The most messages of the mailbox a message is forwarded to, unless its domain says (the same setting as voicemail's). */
  VM_MAX_MESSAGES: env.integer(0).default(0),
  /** The platform's domains file (a domain's `maxMessages` bounds a forward to its mailboxes). */
  VM_DOMAINS_FILE: env.string().optional(),
};

export type VoiceboxConfig = z.output<z.ZodObject<typeof voiceboxConfig>>;
