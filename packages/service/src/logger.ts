/** JSON logs (pino), one line per event, with the service, the instance and — for calls — the call id. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(service: string, instance: string, level: string): Logger {
  return pino({
    level,
    base: { service, instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** A child logger that puts the call id on every line about that call. */
export function callLogger(log: Logger, callId: string | undefined): Logger {
  return callId === undefined ? log : log.child({ callId });
}
