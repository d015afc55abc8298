/**
 * Environment variables of the web service (documented in its README). Secrets (the operator
 * key, the token secret, webhook secrets) are declared here as plain strings and checked in
 * secrets.ts, so that a bad one is reported by name without its value ever being printed.
 */
import { z } from 'zod';
import { GreetingTypeSchema } from '@sipvm/contracts';
import { env } from '@sipvm/service';

const duration = (min: number, max: number, minText: string, maxText: string) =>
  env.duration().pipe(z.number().min(min, `must be at least ${minText}`).max(max, `must be at most ${maxText}`));

export const webConfig = {
  /** The HTTP API and the web inbox (not the health port, HTTP_PORT). */
  WEB_PORT: env.port().default(8080),
  WEB_HOST: env.string().default('127.0.0.1'),
  /** How users reach the service (e.g. https://voicemail.example.net): makes inbox links absolute. */
  WEB_PUBLIC_URL: env.url(['http', 'https']).optional(),
  WEB_OPERATOR_KEY: z.string().optional(),
  WEB_OPERATOR_KEY_FILE: env.string().optional(),
  WEB_TOKEN_SECRET: z.string().optional(),
  WEB_TOKEN_SECRET_FILE: env.string().optional(),
  /** Lifetime of a mailbox token when the operator does not ask for one. */
  WEB_TOKEN_TTL: duration(60_000, 10 * 365 * 86_400_000, '1m', '3650d').default(30 * 86_400_000),
  /** The longest lifetime the operator may ask for. */
  WEB_TOKEN_MAX_TTL: duration(60_000, 10 * 365 * 86_400_000, '1m', '3650d').default(365 * 86_400_000),
  /** Lifetime of a signed audio link (what an <audio> element plays without headers). */
  WEB_AUDIO_LINK_TTL: duration(10_000, 86_400_000, '10s', '24h').default(600_000),
  /** Requests per minute from one client address (bursts up to the same number). */
  WEB_RATE_PER_ADDRESS: env.integer(1, 1_000_000).default(600),
  /** Requests per minute with one mailbox token (its audio links included). */
  WEB_RATE_PER_TOKEN: env.integer(1, 1_000_000).default(300),
  /** Reverse proxies whose X-Forwarded-For names the client (exact addresses). */
  WEB_TRUSTED_PROXIES: env.list().default([]),
  /** The greeting types the inbox offers and the greeting list reports. */
  WEB_GREETING_TYPES: env
    .list()
    .pipe(z.array(GreetingTypeSchema).min(1, 'must name at least one greeting type'))
    .default(['vm', 'busy', 'away', 'temp', 'name']),
  /** Longest greeting an upload may hold (8 kHz mono 16-bit: 16 000 bytes a second). */
  WEB_GREETING_MAX_MS: duration(5_000, 600_000, '5s', '10m').default(120_000),
  /** One global webhook target (name `default`) for every domain; more in WEBHOOKS_FILE. */
  WEBHOOK_URL: env.url(['http', 'https']).optional(),
  WEBHOOK_SECRET: z.string().optional(),
  WEBHOOK_SECRET_FILE: env.string().optional(),
  /** JSON file of webhook targets, global or per domain (see the README). */
  WEBHOOKS_FILE: env.string().optional(),
  /** Waits between delivery attempts; their number is the retry budget. */
  WEBHOOK_RETRY_DELAYS: env.durations().default([10_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000]),
  /** How long one attempt may take (connect, send, answer). */
  WEBHOOK_TIMEOUT_MS: duration(100, 120_000, '100ms', '2m').default(10_000),
  /** Deliveries one instance makes at once. */
  WEBHOOK_CONCURRENCY: env.integer(1, 256).default(4),
  /** The most messages of a mailbox a message is forwarded to, unless its domain says (voicemail's setting). */
  VM_MAX_MESSAGES: env.integer(0).default(0),
  /** The platform's domains file (a domain's `maxMessages` bounds a forward to its mailboxes). */
  VM_DOMAINS_FILE: env.string().optional(),
};

export type WebConfig = z.output<z.ZodObject<typeof webConfig>>;
