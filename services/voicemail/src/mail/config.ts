/** Environment variables of the mail sender (documented in the README). */
import type { z } from 'zod';
import { env } from '@sipvm/service';

export const mailConfig = {
  SMTP_HOST: env.string().default('127.0.0.1'),
  SMTP_PORT: env.port().default(25),
  /** Implicit TLS from the first byte (usually port 465). */
  SMTP_SECURE: env.boolean().default(false),
  /** STARTTLS: use it when offered, insist on it, or never. */
  SMTP_STARTTLS: env.oneOf(['opportunistic', 'required', 'never'] as const).default('opportunistic'),
  SMTP_USER: env.string().optional(),
  SMTP_PASSWORD: env.string().optional(),
  /** Extra CA certificate (PEM file) to trust, for a private mail relay. */
  SMTP_CA_FILE: env.string().optional(),
  /** Check the server's certificate (turn off only for testing). */
  SMTP_TLS_VERIFY: env.boolean().default(true),
  SMTP_TIMEOUT_MS: env.integer(1_000, 600_000).default(30_000),
  /** Folder with the operator's `.template` files; they add to and override the built-in ones. */
  MAIL_TEMPLATE_DIR: env.string().optional(),
  /** Time zone of %date% in mails. */
  MAIL_TIME_ZONE: env.timeZone().default('UTC'),
  /** P-App-Param keys (beyond the standard ones) that templates may use as %variables%. */
  MAIL_EXTRA_VARIABLES: env
    .list()
    .refine((keys) => keys.every((k) => /^[a-z][a-z0-9_]{0,31}$/.test(k)), 'must be lower-case names such as name,company')
    .default([]),
  /** Waits between delivery attempts; their number is the retry budget. Total must stay below 7 days (staged audio). */
  MAIL_RETRY_DELAYS: env
    .durations()
    .refine((delays) => delays.reduce((a, b) => a + b, 0) < 7 * 86_400_000, 'must add up to less than 7 days')
    .default([30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000]),
  /** Mails sent at the same time by one instance. */
  MAIL_CONCURRENCY: env.integer(1, 64).default(4),
};

export type MailConfig = z.output<z.ZodObject<typeof mailConfig>>;

export function checkMailConfig(config: MailConfig): string[] {
  return Boolean(config.SMTP_USER) !== Boolean(config.SMTP_PASSWORD) ? ['SMTP_USER / SMTP_PASSWORD: set both for SMTP AUTH, or neither'] : [];
}
