/**
 * Inactivity timers of calls: armed when a caller is expected to press a key (the voicebox's
 * menus, voicemail's wait for the urgent key), published on JetStream so that a timer fires on any
 * instance of the application, even when the one that armed it has died. A timer is delivered
 * again and again until it is due. It carries the call's trace: what the call does when it fires
 * (voicemail's hand-over of the message, say) stays in the call's trace.
 */
import { z } from 'zod';
import type { JetStreamClient } from '@nats-io/jetstream';
import { CallRefSchema } from './call.js';
import { encodeJson } from './rpc.js';
import { withTraceHeaders } from './tracing.js';

export const CallTimerSchema = z.strictObject({
  callRef: CallRefSchema,
  /** The call's timer generation: a timer whose id is no longer the call's current one is stale. */
  timerId: z.number().int().nonnegative(),
  /** When it is due, in milliseconds since the epoch. */
  dueAt: z.number().int().nonnegative(),
});
export type CallTimer = z.infer<typeof CallTimerSchema>;

/** Arms a timer on `subject` (the application's timer subject); publishing twice is harmless. */
export async function armCallTimer(js: JetStreamClient, subject: string, timer: CallTimer): Promise<void> {
  const headers = withTraceHeaders(undefined);
  await js.publish(subject, encodeJson(CallTimerSchema.parse(timer)), { msgID: `${timer.callRef}-${timer.timerId}`, ...(headers ? { headers } : {}) });
}
