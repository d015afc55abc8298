/** Environment variables of the leave-a-message call flow (documented in the README). */
import type { z } from 'zod';
import { env } from '@sipvm/service';

export const callConfig = {
  /** Longest message; at the limit the caller hears a beep and a goodbye, and the message is kept whole. */
  VM_MAX_MESSAGE_MS: env.integer(5_000, 3_600_000).default(120_000),
};

export type CallConfig = z.output<z.ZodObject<typeof callConfig>>;
