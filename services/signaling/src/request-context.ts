/**
 * What the steps of one request's handling learn and hand on (jambonz's `req.locals`): its log,
 * whether its source is a trusted proxy, and — for an INVITE — the session timer, the application
 * and its parameters, as each step finds them. Refusing goes through here too, so every refusal
 * is logged and counted the same way, whichever step refuses.
 */
import type { AppParams } from '@sipvm/contracts';
import { callLogger, withoutPins, type Logger } from '@sipvm/service';
import { reply, type SipRequest, type SipResponse, type Step } from './sip-stack.js';
import type { TimerNegotiation } from './session-timer.js';
import type { Selection } from './app-selection.js';

export interface RequestContext {
  readonly log: Logger;
  /** Set by the trust step: the request comes from a configured proxy. */
  trusted: boolean;
  /** Told of every refusal (status), e.g. to count it; set by the method's own first step. */
  onRefused?: (status: number) => void;
  /** INVITE: gives its place among the calls being answered back (admission.ts); idempotent. */
  release?: () => void;
  /** INVITE: the caller sent CANCEL. */
  canceled: boolean;
  /** INVITE: the validated Call-ID. */
  callId?: string;
  /** INVITE: what was agreed about session timers (RFC 4028). */
  timers?: Extract<TimerNegotiation, { ok: true }>;
  /** INVITE: the application and what selected it. */
  selection?: Extract<Selection, { ok: true }>;
  /** INVITE: the callee's profile, the PIN sealed. */
  params?: AppParams;
  /** INVITE: P-Final-Reply-Code / -Reason from the proxy. */
  finalReply?: { code: number; reason: string };
}

const contexts = new WeakMap<SipRequest, RequestContext>();

/** The first step of every method: the request's context, with a log line prefix of its Call-ID. */
export function initContext(log: Logger): Step {
  return function initLocals(req, _res, next) {
    contexts.set(req, { log: callLogger(log, callIdForLog(req.get('Call-ID'))), trusted: false, canceled: false });
    next();
  };
}

/**
 * The Call-ID as the log shows it. Any sender picks it, and a mangled message from the proxy may
 * have P-App-Param's `pin=…` where the Call-ID should be (the SIP fuzz test found one): PIN digits
 * never reach a log.
 */
export function callIdForLog(callId: string | undefined): string | undefined {
  return callId === undefined ? undefined : withoutPins(callId);
}

export function contextOf(req: SipRequest): RequestContext {
  const context = contexts.get(req);
  if (!context) throw new Error('the request has no context: initLocals must be its first step');
  return context;
}

/** A value an earlier step must have set; its absence is a bug in the order of the steps. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not known yet: a step is missing or out of order`);
  return value;
}

/**
 * Refuses the request with a final response and says why in the log. Hostile sources can send
 * requests faster than anyone reads logs: refusals of untrusted requests are logged once per reason
 * and interval, with a count of those not logged (they are all counted in the metrics).
 */
export function refuse(req: SipRequest, res: SipResponse, status: number, reason: string, headers: Record<string, string> = {}): void {
  const context = contextOf(req);
  context.onRefused?.(status);
  // Digits are masked in the log: a malformed P-App-Param may hold a PIN where a key should be.
  const logged = { status, reason: reason.replace(/[0-9]/g, '#'), source: req.source_address, method: req.method };
  // 503 is the platform's own state (overload, an outage, shutting down), whoever asked: under
  // load it is said once per reason and interval, with how many more were refused.
  if (status === 503) unavailableRefusals.report(context.log, logged.reason, logged, 'call refused: the platform cannot take it now');
  else if (context.trusted) context.log.info(logged, 'request refused');
  else untrustedRefusals.report(context.log, `${req.method} ${status} ${logged.reason}`, logged);
  reply(res, status, reason, headers);
}

/** At most one line per key and interval; the next line says how many were left out. */
export class QuietLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly intervalMs: number) {}

  report(log: Logger, key: string, fields: Record<string, unknown>, message = 'request from an untrusted source refused'): void {
    const now = Date.now();
    const seen = this.#last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    if (this.#last.size > 1_000) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    log.info({ ...fields, ...(seen?.suppressed ? { alsoRefusedSinceLastLine: seen.suppressed } : {}) }, message);
  }
}

const untrustedRefusals = new QuietLog(10_000);
const unavailableRefusals = new QuietLog(10_000);
