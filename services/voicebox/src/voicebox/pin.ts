/**
 * The PIN lock-out (docs/behaviour.md §4): a mailbox locked for a while after repeated failures. The failure
 * count lives in NATS KV, so the lock holds across calls and across instances; every change is a
 * compare-and-set, so concurrent calls cannot lose a failure. (The PIN itself arrives sealed and is
 * checked in constant time: `pinMatches` in packages/contracts/src/pin.ts.)
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import { BUCKETS, encodeJson, normaliseMailbox, type Mailbox, openKv } from '@sipvm/contracts';

export const PIN_FAILURES_BUCKET = BUCKETS.pinFailures;
/** Entries are garbage after a day at most (the lock and the failure window are shorter). */
const BUCKET_TTL_MS = 24 * 3600 * 1000;

const FailuresSchema = z.object({
  failures: z.number().int().nonnegative(),
  lastFailureAt: z.number(),
  lockedUntil: z.number().optional(),
});
type Failures = z.infer<typeof FailuresSchema>;

export interface LockoutPolicy {
  /** Wrong PINs (within `lockMs` of each other) that lock the mailbox. */
  lockAfter: number;
  lockMs: number;
}

export class PinLockout {
  private constructor(
    private readonly kv: KV,
    private readonly policy: LockoutPolicy,
  ) {}

  static async open(nc: NatsConnection, policy: LockoutPolicy): Promise<PinLockout> {
    return new PinLockout(await openKv(nc, PIN_FAILURES_BUCKET, { ttl: BUCKET_TTL_MS, history: 1 }), policy);
  }

  async isLocked(mailbox: Mailbox, now = Date.now()): Promise<boolean> {
    const entry = await this.kv.get(lockoutKey(mailbox));
    if (!entry || entry.operation !== 'PUT') return false;
    return (FailuresSchema.parse(entry.json()).lockedUntil ?? 0) > now;
  }

  /** Counts a wrong PIN; true when this one locked the mailbox. */
  async failed(mailbox: Mailbox, now = Date.now()): Promise<boolean> {
    const next = await this.change(mailbox, (current) => {
      const recent = current && now - current.lastFailureAt < this.policy.lockMs && !(current.lockedUntil && current.lockedUntil <= now);
      const failures = (recent ? current.failures : 0) + 1;
      return failures >= this.policy.lockAfter ? { failures: 0, lastFailureAt: now, lockedUntil: now + this.policy.lockMs } : { failures, lastFailureAt: now };
    });
    return next.lockedUntil !== undefined;
  }

  /** The right PIN: the failures so far are forgiven. */
  async succeeded(mailbox: Mailbox): Promise<void> {
    await this.kv.delete(lockoutKey(mailbox));
  }

  private async change(mailbox: Mailbox, next: (current: Failures | undefined) => Failures): Promise<Failures> {
    const key = lockoutKey(mailbox);
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await this.kv.get(key);
      const current = entry?.operation === 'PUT' ? FailuresSchema.parse(entry.json()) : undefined;
      const value = next(current);
      try {
        if (entry) await this.kv.update(key, encodeJson(value), entry.revision);
        else await this.kv.create(key, encodeJson(value));
        return value;
      } catch {
        // Another call failed at the same moment: count again on its result.
      }
    }
    throw new Error('PIN failures of this mailbox kept changing');
  }
}

/**
 * A mailbox's key in the bucket: one per mailbox however its domain is spelt (the identity rule,
 * normaliseMailbox). Mailbox ids may hold characters KV keys may not (+, @, ~): the key is their base64url.
 */
export const lockoutKey = (mailbox: Mailbox): string => {
  const { did, uid } = normaliseMailbox(mailbox);
  return Buffer.from(`${did}\n${uid}`).toString('base64url');
};
