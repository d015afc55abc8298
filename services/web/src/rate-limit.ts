/**
 * Rate limits: a token bucket per key (a client address, a mailbox token), refilled at `perMinute`
 * a minute and holding at most that many, so a client may burst up to a minute's allowance and
 * is then held to the rate. Kept in this instance's memory: with N instances behind a balancer a
 * client gets up to N times the rate, which the operator sizes for.
 */
export interface RateDecision {
  allowed: boolean;
  /** When refused: whole seconds until one request is allowed again (the Retry-After header). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets that have refilled completely are forgotten; this bounds memory under many addresses. */
const PRUNE_EVERY = 10_000;

export class RateLimiter {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #buckets = new Map<string, Bucket>();
  #sincePrune = 0;

  constructor(perMinute: number) {
    this.#capacity = perMinute;
    this.#perMs = perMinute / 60_000;
  }

  take(key: string, now = Date.now()): RateDecision {
    if (++this.#sincePrune >= PRUNE_EVERY) this.#prune(now);
    const bucket = this.#buckets.get(key) ?? { tokens: this.#capacity, updatedAt: now };
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.updatedAt) * this.#perMs);
    bucket.updatedAt = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000)) };
  }

  get size(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    this.#sincePrune = 0;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.#perMs >= this.#capacity) this.#buckets.delete(key);
    }
  }
}
