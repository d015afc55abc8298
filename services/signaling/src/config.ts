/** The signaling service's environment variables (documented in the README). */
import { z } from 'zod';
import { LanguageSchema, VOICEMAIL_MODES } from '@sipvm/contracts';
import { env, mediaNodeShape } from '@sipvm/service';
import { APP_FALLBACKS, type AppFallback } from './app-selection.js';
import { TrustedSources } from './trust.js';

const sipUri = (what: string) => z.string().regex(/^sips?:[^\s<>"]+$/, `must be a SIP URI such as ${what}`);

export const signalingConfig = {
  ...mediaNodeShape,
  /** drachtio-server's admin (application) connection. */
  DRACHTIO_HOST: env.string().default('127.0.0.1'),
  DRACHTIO_PORT: env.port().default(9022),
  DRACHTIO_SECRET: env.string().default('cymru'),
  /** Source addresses (IPs or CIDR ranges) whose P-App-* headers are believed: the proxies. */
  TRUSTED_PROXIES: env
    .list()
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        const problem = TrustedSources.check(entry);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
    })
    .default(['127.0.0.1', '::1']),
  /** What to do with P-App-* headers from anyone else: `refuse` the call (403) or `ignore` them. */
  UNTRUSTED_APP_HEADERS: env.oneOf(['refuse', 'ignore'] as const).default('refuse'),
  /**
   * INVITEs from anyone else: `refuse` (403), or `voicemail`: they may leave a message, nothing
   * more (voicebox, annrecorder and SUBSCRIBE are only ever for the proxy).
   */
  UNTRUSTED_CALLS: env.oneOf(['refuse', 'voicemail'] as const).default('refuse'),
  /** Order of the application fallbacks after P-App-Name: ruri-param, ruri-user, mapping. */
  APP_FALLBACKS: env
    .list()
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        if (!(APP_FALLBACKS as readonly string[]).includes(entry)) {
          ctx.addIssue({ code: 'custom', message: `"${entry}" is not one of ${APP_FALLBACKS.join(', ')}` });
        }
      }
      if (new Set(entries).size !== entries.length) ctx.addIssue({ code: 'custom', message: 'names a fallback twice' });
    })
    .transform((entries) => entries as AppFallback[])
    .default(['ruri-param', 'ruri-user', 'mapping']),
  /** File of `regex => application` lines matched against the R-URI (the `mapping` fallback). */
  APP_MAPPING_FILE: env.string().optional(),
  /** Voicemail mode when P-App-Param has no mod. */
  DEFAULT_MODE: env.oneOf(VOICEMAIL_MODES).default('voicemail'),
  /** Prompt and mail language when P-App-Param has no lng. */
  DEFAULT_LANGUAGE: LanguageSchema.default('en'),
  /** Extra P-App-Param keys passed to the applications as mail template variables. */
  APP_PARAM_EXTRA_KEYS: env
    .list()
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        if (!/^[a-z][a-z0-9_-]{0,31}$/.test(entry)) ctx.addIssue({ code: 'custom', message: `"${entry}" must be a lower-case key of at most 32 characters` });
      }
    })
    .default([]),
  /** ann mode: 183 with the announcement, then the final reply (P-Final-Reply-Code/-Reason). */
  ANN_EARLY_MEDIA: env.boolean().default(false),
  /** Final reply after an early-media announcement when the proxy sent no P-Final-Reply-Code. */
  ANN_FINAL_REPLY_CODE: env.integer(300, 699).default(480),
  ANN_FINAL_REPLY_REASON: z
    .string()
    .regex(/^[\x20-\x7e]{1,128}$/, 'must be printable text')
    .default('Temporarily Unavailable'),
  /** An early-media call not finished by the application within this time gets its final reply. */
  ANN_EARLY_MEDIA_TIMEOUT_MS: env.integer(1_000, 600_000).default(120_000),
  /** How long to wait for media's SDP answer before 503. */
  MEDIA_TIMEOUT_MS: env.integer(100, 60_000).default(5_000),
  /**
   * How long a call is offered to its application (voicemail, voicebox) before it is refused with
   * 503 (an early-media announcement: ended): covers an application that is restarting, reconnecting
   * to NATS or waiting out a NATS election. The caller is answered only once an instance took it.
   */
  APP_START_TIMEOUT_MS: env.integer(1_000, 120_000).default(15_000),
  /** Calls this instance holds at most; beyond, new INVITEs get 503 (0: no cap). */
  MAX_CALLS: env.integer(0, 1_000_000).default(0),
  /** Overloaded when the event loop runs this late (99th percentile over a window); 0: not measured. */
  OVERLOAD_LOOP_DELAY_MS: env.integer(0, 60_000).default(100),
  /** Overloaded when media takes this long to answer an offer (90th percentile over a window); 0: not measured. */
  OVERLOAD_MEDIA_ANSWER_MS: env.integer(0, 60_000).default(250),
  /** The window of both measurements. */
  OVERLOAD_WINDOW_MS: env.integer(100, 60_000).default(1_000),
  /** Retry-After of every 503 to a new call (outage, overload, capacity). */
  RETRY_AFTER_S: env.integer(1, 3_600).default(5),
  /** How often to ask whether media can take a call (readiness and OPTIONS follow the answer). */
  MEDIA_PROBE_INTERVAL_MS: env.integer(100, 60_000).default(1_000),
  /** How long a transfer waits for its outcome (REFER: the final NOTIFY; bridge: the target's answer). */
  TRANSFER_TIMEOUT_MS: env.integer(1_000, 60_000).default(30_000),
  /** Outbound proxy of the calls the platform places to connect a caller (`bridge`); unset: the target's own host. */
  TRANSFER_PROXY: sipUri('sip:proxy.example.org:5060').optional(),
  /** Proxy for unsolicited MWI NOTIFYs (SEMS style), e.g. sip:proxy.example.org:5060; unset: none. */
  MWI_PROXY: sipUri('sip:proxy.example.org:5060').optional(),
  /** Request-URI of unsolicited NOTIFYs; {uid} and {did} are replaced by the mailbox ids. */
  MWI_TARGET_TEMPLATE: z
    .string()
    .regex(/^sips?:\S*\{uid\}\S*$/, 'must be a SIP URI template containing {uid}, e.g. sip:{uid}@{did}')
    .default('sip:{uid}@{did}'),
  /** Subscription lengths for SUBSCRIBE: shorter requests get 423, longer ones are cut. */
  MWI_MIN_EXPIRES: env.integer(1, 86_400).default(60),
  MWI_MAX_EXPIRES: env.integer(60, 86_400).default(3_600),
  /** Subscription length when a SUBSCRIBE has no Expires; default MWI_MAX_EXPIRES. */
  MWI_DEFAULT_EXPIRES: env.integer(1, 86_400).optional(),
  /**
   * Unsolicited NOTIFYs are sent again this often for every mailbox whose lamp is on (or just went
   * out), so a phone that lost its lamp gets it back; 0: only when a mailbox changes or a phone registers.
   */
  MWI_REFRESH_INTERVAL_MS: env
    .duration()
    .pipe(
      z
        .number()
        .refine((ms) => ms === 0 || ms >= 10_000, 'must be 0 (off) or at least 10s')
        .refine((ms) => ms <= 7 * 86_400_000, 'must be at most 7 days'),
    )
    .default(3_600_000),
  /** Mailbox events handled at once by this instance (1 keeps NOTIFYs in event order). */
  MWI_CONCURRENCY: env.integer(1, 64).default(1),
  /** Name of the durable JetStream consumer shared by all signaling instances. */
  MWI_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'may contain only letters, digits, _ and -')
    .default('signaling-mwi'),
};

export type SignalingConfig = z.output<z.ZodObject<typeof signalingConfig>>;

export function checkSignalingConfig(config: SignalingConfig): string[] {
  const problems: string[] = [];
  if (config.MWI_MIN_EXPIRES > config.MWI_MAX_EXPIRES) {
    problems.push(`MWI_MIN_EXPIRES (${config.MWI_MIN_EXPIRES}): must not be more than MWI_MAX_EXPIRES (${config.MWI_MAX_EXPIRES})`);
  }
  const byDefault = config.MWI_DEFAULT_EXPIRES;
  if (byDefault !== undefined && (byDefault < config.MWI_MIN_EXPIRES || byDefault > config.MWI_MAX_EXPIRES)) {
    problems.push(`MWI_DEFAULT_EXPIRES (${config.MWI_DEFAULT_EXPIRES}): must be between MWI_MIN_EXPIRES and MWI_MAX_EXPIRES`);
  }
  return problems;
}
