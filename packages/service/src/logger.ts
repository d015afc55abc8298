/** JSON logs (pino), one line per event, with the service, the instance and — for calls — the call id. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(service: string, instance: string, level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service, instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (fields) => withoutPins(fields) as Record<string, unknown> },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * `pin=` and digits, wherever they stand in what a line logs. The proxy passes the PIN in
 * P-App-Param, and a mangled request can put that text where a mailbox, a Call-ID or a reason
 * should be (the SIP fuzz test found both): PIN digits never reach a log.
 */
const PIN = /(pin\s*=\s*)[0-9]+/gi;

export function withoutPins<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return value.replace(PIN, '$1#') as T;
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => withoutPins(item, depth + 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value; // errors and the like: their serializers decide
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = withoutPins(item, depth + 1);
  return copy as T;
}

/** A child logger that puts the call id on every line about that call. */
export function callLogger(log: Logger, callId: string | undefined): Logger {
  return callId === undefined ? log : log.child({ callId });
}
