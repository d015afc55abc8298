/**
 * Session timers (RFC 4028) where the caller asks for them (docs/behaviour.md §8): the UAS side only. A caller
 * that supports timers and sends Session-Expires gets it back with `Require: timer`; it then
 * refreshes (re-INVITE or UPDATE) and a call not refreshed in time is ended with BYE. When the
 * caller names us as refresher, we send the refreshing re-INVITEs.
 */

export const MIN_SE = 90;

export interface SessionTimer {
  /** Seconds. */
  readonly interval: number;
  readonly refresher: 'uac' | 'uas';
}

export type TimerNegotiation =
  { ok: true; timer: SessionTimer | undefined; headers: Record<string, string> } | { ok: false; status: 422; reason: string; headers: Record<string, string> };

/** What to answer to an INVITE's Session-Expires / Min-SE / Supported headers. */
export function negotiateSessionTimer(
  request: { sessionExpires: string | undefined; minSe: string | undefined; supported: string | undefined },
  ourMinSe = MIN_SE,
): TimerNegotiation {
  if (request.sessionExpires === undefined) return { ok: true, timer: undefined, headers: {} };
  const match = /^\s*(\d{1,9})\s*(?:;(.*))?$/.exec(request.sessionExpires);
  // A malformed Session-Expires is ignored rather than failing the call.
  if (!match) return { ok: true, timer: undefined, headers: {} };
  const minSe = Math.max(ourMinSe, Number(/^\s*(\d{1,9})/.exec(request.minSe ?? '')?.[1] ?? 0));
  const interval = Number(match[1]);
  if (interval < minSe) {
    return { ok: false, status: 422, reason: 'Session Interval Too Small', headers: { 'Min-SE': String(minSe) } };
  }
  const supportsTimer = (request.supported ?? '').split(',').some((o) => o.trim().toLowerCase() === 'timer');
  // Without `Supported: timer` the caller cannot be the refresher, and we do not impose timers.
  if (!supportsTimer) return { ok: true, timer: undefined, headers: {} };
  const asked = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\b/i.exec(match[2] ?? '')?.[1]?.toLowerCase();
  const refresher: 'uac' | 'uas' = asked === 'uas' ? 'uas' : 'uac';
  return {
    ok: true,
    timer: { interval, refresher },
    headers: { 'Session-Expires': `${interval};refresher=${refresher}`, Require: 'timer' },
  };
}

/** When to give up on a call not refreshed: RFC 4028 §10, the interval less min(32, interval/3). */
export function expiryMs(timer: SessionTimer): number {
  return (timer.interval - Math.min(32, timer.interval / 3)) * 1000;
}
