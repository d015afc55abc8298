/**
 * Waiting out a NATS cluster's elections. When a server dies, each stream and KV bucket it led has
 * no leader for a few seconds (measured with nats-server 2.9 here: 1 to 6 s), and every JetStream
 * request to it fails meanwhile ("jetstream is not enabled", a timeout) although nothing is wrong
 * with the request. Work on calls in progress waits that out instead of failing the call or
 * dropping what happened in it.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** Waits between attempts; the last repeats until the deadline. */
const DELAYS_MS = [50, 100, 250, 500, 1_000];

export interface PatienceOptions {
  /** Give up (throw the last error) after this long. */
  deadlineMs: number;
  /** Errors that another attempt will not change, thrown at once (a compare-and-set that lost). */
  isFinal?: (error: unknown) => boolean;
}

export async function untilAvailable<T>(operation: () => Promise<T>, options: PatienceOptions): Promise<T> {
  const deadline = Date.now() + options.deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (options.isFinal?.(error) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, DELAYS_MS[Math.min(attempt, DELAYS_MS.length - 1)]));
    }
  }
}

/** A KV compare-and-set (create, update) refused because the entry is not at the expected revision. */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
