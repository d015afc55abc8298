/**
 * The voicebox and annrecorder applications (SPEC §4, §5): what travels between their instances.
 *
 * Their call events are the ones every application gets (call.ts). What is theirs alone is the
 * inactivity timer: armed when the caller is expected to press a key, published on JetStream so
 * that it fires on any instance, even when the one that armed it has died.
 */
import { z } from 'zod';
import type { JetStreamClient } from '@nats-io/jetstream';
import { CallRefSchema } from './call.js';
import { encodeJson } from './rpc.js';
import { SUBJECTS } from './subjects.js';

export const VoiceboxTimerSchema = z.strictObject({
  callRef: CallRefSchema,
  /** The call's timer generation: a timer whose id is no longer the call's current one is stale. */
  timerId: z.number().int().nonnegative(),
  /** When it is due, in milliseconds since the epoch. */
  dueAt: z.number().int().nonnegative(),
});
export type VoiceboxTimer = z.infer<typeof VoiceboxTimerSchema>;

/** Arms a timer; publishing twice is harmless (de-duplicated by call and timer id). */
export async function armVoiceboxTimer(js: JetStreamClient, timer: VoiceboxTimer): Promise<void> {
  await js.publish(SUBJECTS.voicebox.timer, encodeJson(VoiceboxTimerSchema.parse(timer)), { msgID: `${timer.callRef}-${timer.timerId}` });
}
