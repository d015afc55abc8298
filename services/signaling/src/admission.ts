/**
 * Admission control: a call is answered only when the platform can still record it in time.
 * Beyond that, new INVITEs get 503 with Retry-After (and OPTIONS says 503), so the proxy sends
 * them elsewhere, while the calls already answered keep their timing.
 *
 * Overload is measured where it shows first: how late this process's event loop runs (the machine
 * or the process is short of CPU) and how long media takes to open a session (NATS, media and
 * rtpengine together). Either above its limit for a measuring window means overloaded; back under
 * 70 % of it means not, so that the state does not flap call by call. A fixed cap on the calls
 * this instance holds can be configured on top.
 *
 * One window over is enough on purpose. Waiting for a second one spares the callers of a burst
 * that passes by itself, but at the edge a window over is the start of lasting overload often
 * enough, and the second of callers let in then got their greeting so late that some had too
 * little recorded before they hung up, and lost their message (BENCHMARKS.md, "One window over
 * is enough").
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface AdmissionLimits {
  /** Calls held by this instance at most; 0: no cap. */
  maxCalls: number;
  /** 99th percentile of the event loop's delay over a window, in ms; 0: not measured. */
  maxLoopDelayMs: number;
  /** 90th percentile of media's answer time (session open) over a window, in ms; 0: not measured. */
  maxMediaAnswerMs: number;
  /** The measuring window. */
  windowMs: number;
}

export interface Measurements {
  loopDelayP99Ms: number;
  mediaAnswerP90Ms: number;
}

/** Pure: overloaded now, given the last window's measurements and whether it was before. */
export function overloaded(limits: AdmissionLimits, m: Measurements, before: boolean): boolean {
  const over = (value: number, limit: number) => limit > 0 && value > (before ? 0.7 * limit : limit);
  return over(m.loopDelayP99Ms, limits.maxLoopDelayMs) || over(m.mediaAnswerP90Ms, limits.maxMediaAnswerMs);
}

/**
 * How often the event loop is sampled: a tick that comes late by more than this says how late.
 * Sampled by Node itself (perf_hooks), not a JavaScript timer: a callback 50 times a second cost an
 * idle signaling more CPU than everything else it does while idle.
 */
const TICK_MS = 20;

export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #timer: NodeJS.Timeout;
  readonly #loop: IntervalHistogram = monitorEventLoopDelay({ resolution: TICK_MS });
  #answers: number[] = [];
  #overloaded = false;
  /** While overloaded, one call per window is let through: its answer says whether media recovered. */
  #probeLetThrough = false;
  #last: Measurements = { loopDelayP99Ms: 0, mediaAnswerP90Ms: 0 };

  constructor(
    limits: AdmissionLimits,
    private readonly onChange: (overloaded: boolean, m: Measurements) => void = () => undefined,
  ) {
    this.#limits = limits;
    this.#loop.enable();
    this.#timer = setInterval(() => this.#measure(), limits.windowMs);
    this.#timer.unref();
  }

  get measurements(): Measurements {
    return this.#last;
  }

  get overloaded(): boolean {
    return this.#overloaded;
  }

  /**
   * Why a new call must be refused now, or undefined. While overloaded, the first call of each
   * window is let through: without answers from media a window would know nothing of it, and it
   * would either never recover or (counting no answers as fast ones) recover every other window.
   */
  refusal(activeCalls: number): string | undefined {
    if (this.#limits.maxCalls > 0 && activeCalls >= this.#limits.maxCalls) return 'at capacity';
    if (!this.#overloaded) return undefined;
    if (!this.#probeLetThrough && this.#limits.maxMediaAnswerMs > 0) {
      this.#probeLetThrough = true;
      return undefined;
    }
    return 'overloaded';
  }

  /** How long media took to answer an offer (a session open), for the next window's verdict. */
  mediaAnswered(ms: number): void {
    if (this.#answers.length < 10_000) this.#answers.push(ms);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#loop.disable();
  }

  /** Node's samples are the time from one tick to the next, in ns: a tick on time is TICK_MS. None yet: on time. */
  #loopDelayP99Ms(): number {
    return this.#loop.count === 0 ? 0 : Math.max(0, this.#loop.percentile(99) / 1e6 - TICK_MS);
  }

  #measure(): void {
    // A window without answers from media says nothing of media: what the last one said stands.
    const mediaAnswerP90Ms = this.#answers.length > 0 ? percentile(this.#answers, 90) : this.#last.mediaAnswerP90Ms;
    this.#last = { loopDelayP99Ms: this.#loopDelayP99Ms(), mediaAnswerP90Ms };
    this.#loop.reset();
    this.#answers = [];
    this.#probeLetThrough = false;
    const now = overloaded(this.#limits, this.#last, this.#overloaded);
    if (now !== this.#overloaded) {
      this.#overloaded = now;
      this.onChange(now, this.#last);
    }
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = values.sort((a, b) => a - b);
  return sorted[Math.ceil((sorted.length * p) / 100) - 1] ?? 0;
}
