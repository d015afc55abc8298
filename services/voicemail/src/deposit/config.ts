/** Environment variables of the voicemail application's deposit step (documented in the README). */
import { z } from 'zod';
import { env } from '@sipvm/service';

export const depositConfig = {
  /** Messages shorter than this are discarded, not stored, not mailed (docs/behaviour.md §2). */
  VM_MIN_MESSAGE_MS: env.integer(0, 600_000).default(1_000),
  /** A message whose loudest 20 ms is below this level is silence and is discarded. */
  VM_SILENCE_THRESHOLD_DBFS: z.coerce.number({ error: 'must be a number' }).max(0, 'must be 0 or below (dBFS)').default(-50),
  /** Waits between attempts when storage or NATS fail; the last one repeats until it works: a recorded message is never dropped. */
  VM_DEPOSIT_RETRY_DELAYS: env.durations().default([1_000, 5_000, 30_000, 120_000, 600_000]),
  /** Deposits one instance works on at once. */
  VM_DEPOSIT_CONCURRENCY: env.integer(1, 64).default(4),
};

export type DepositConfig = z.output<z.ZodObject<typeof depositConfig>>;
