/**
 * Configuration from environment variables, validated at start-up.
 *
 * A service declares its variables as a zod object keyed by the variable names; `loadConfig`
 * checks them all at once and reports every bad one by name, so an operator fixes a broken
 * deployment in one pass instead of one restart per typo.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_MEDIA_NODE } from '@sipvm/contracts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

type EnvShape = Record<string, z.ZodType>;

export function loadConfig<S extends EnvShape>(shape: S, env: NodeJS.ProcessEnv = process.env): z.output<z.ZodObject<S>> {
  // Empty values count as unset, so `FOO=` in a compose file falls back to the default.
  const present = Object.fromEntries(
    Object.keys(shape).flatMap((key) => {
      const value = env[key];
      return value === undefined || value === '' ? [] : [[key, value]];
    }),
  );
  const parsed = z.object(shape).safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(environment)');
    const value = env[variable];
    const shown = value === undefined || value === '' ? 'unset' : `"${value.length > 60 ? `${value.slice(0, 60)}…` : value}"`;
    return `${variable} (${shown}): ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** Building blocks for environment variables: strings in, typed values out, clear messages. */
export const env = {
  string: () => z.string().min(1),
  port: () =>
    z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535'),
  integer: (min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  boolean: () =>
    z.string().transform((value, ctx) => {
      const v = value.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    }),
  url: (protocols: readonly string[]) =>
    z.string().refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      `must be a URL (${protocols.join(', ')})`,
    ),
  /** Comma-separated list, entries trimmed, empties dropped. */
  list: () =>
    z.string().transform((value) =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  /** A duration: 250ms, 30s, 5m, 2h (a bare number is milliseconds). Out: milliseconds. */
  duration: () =>
    z.string().transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as 250ms, 30s, 5m or 2h' });
        return z.NEVER;
      }
      return ms;
    }),
  /** Comma-separated durations, e.g. 30s,2m,10m. Out: milliseconds. */
  durations: () =>
    z.string().transform((value, ctx) => {
      const parts = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const values = parts.map(parseDuration);
      if (parts.length === 0 || values.some((v) => v === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of durations such as 30s,2m,10m' });
        return z.NEVER;
      }
      return values as number[];
    }),
  /** An IANA time zone such as Europe/Berlin (what Intl knows on this Node.js). */
  timeZone: () => z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin'),
  oneOf: <T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `must be one of ${values.join(', ')}` }),
};

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1));
}

/** What every service reads, whatever it does. */
export const commonConfigShape = {
  /** Comma-separated NATS server URLs (`tls://` for TLS). */
  NATS_URL: env.list().default(['nats://127.0.0.1:4222']),
  /** The service's own nkey seed (a file holding `SU…`): who it is on NATS (SECURITY.md). */
  NATS_NKEY_FILE: env.string().optional(),
  /** Or a user name and a file holding its password, for a NATS set up that way. */
  NATS_USER: env.string().optional(),
  NATS_PASSWORD_FILE: env.string().optional(),
  /** TLS to NATS: the CA that signed the servers' certificates (PEM); setting it requires TLS. */
  NATS_TLS_CA_FILE: env.string().optional(),
  /** A client certificate and its key (PEM), for servers that verify clients (mutual TLS). */
  NATS_TLS_CERT_FILE: env.string().optional(),
  NATS_TLS_KEY_FILE: env.string().optional(),
  /** Port of the HTTP server with /healthz, /readyz and /metrics; 0 picks a free one. */
  HTTP_PORT: env.port().default(0),
  HTTP_HOST: env.string().default('0.0.0.0'),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).default('info'),
  /**
   * Unique per instance; defaults to the host name plus a random suffix. Any other character than
   * letters, digits, _ and - becomes -, so a Kubernetes node name (`node-1.example.org`) works.
   */
  INSTANCE_ID: z
    .string()
    .transform(instanceIdFrom)
    .pipe(z.string().min(1, 'must contain a letter or digit'))
    .default(() => defaultInstanceId()),
  /** Copies of every JetStream stream and KV bucket created: 1 on one server, 3 on a cluster. */
  JETSTREAM_REPLICAS: env.integer(1, 5).default(1),
  /** How long a graceful shutdown may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: env.integer(0, 600_000).default(20_000),
  /**
   * Per-call tracing (OpenTelemetry, tracing.ts), off unless set: an OTLP/HTTP collector's base URL
   * (spans go to `<url>/v1/traces`), as every OpenTelemetry SDK reads it.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Or the full URL of its traces endpoint (wins over the base URL). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
};

export type CommonConfig = z.output<z.ZodObject<typeof commonConfigShape>>;

/**
 * MEDIA_NODE, read by signaling and media: the node a pair of them serves with its drachtio-server
 * and rtpengine. Signaling opens sessions on its own node's media, and a recording is delivered by
 * a media instance of the node whose rtpengine wrote it. Normalised like INSTANCE_ID (a Kubernetes
 * node name works); one node by default.
 */
export const mediaNodeShape = {
  MEDIA_NODE: z.string().transform(instanceIdFrom).pipe(z.string().min(1, 'must contain a letter or digit')).default(DEFAULT_MEDIA_NODE),
};

/** An instance id (a NATS subject token: letters, digits, _ and -, at most 64) made from any name. */
export function instanceIdFrom(name: string): string {
  return name
    .trim()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 64);
}

function defaultInstanceId(): string {
  return `${instanceIdFrom(hostname()).slice(0, 40) || 'host'}-${randomBytes(3).toString('hex')}`;
}
