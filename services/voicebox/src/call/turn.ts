/**
 * What the voicebox and annrecorder flows share with each other and with the call runtime: the
 * bookkeeping of every turn (which playback the flow waits for, which timer is armed) and the
 * steps built from it.
 *
 * The flows (voicebox/flow.ts, annrecorder/flow.ts) are pure: given the call's state and what just
 * happened, they return the next state and the actions to carry out. The call runtime (service
 * kit) turns NATS events into events and carries the common actions out; each application's own
 * actions (voicebox/actions/, annrecorder/actions/) do the rest, and what they found out (a page
 * of messages, a PIN check, a forward) comes back as events.
 */
import { z } from 'zod';
import { StagedAudioSchema, type Playable } from '@sipvm/contracts';
import type { CallAction, CallEvent } from '@sipvm/service';

export const RecordedAudioSchema = z.object({ audio: StagedAudioSchema, durationMs: z.number().int().nonnegative() });
export type RecordedAudio = z.infer<typeof RecordedAudioSchema>;

/**
 * The bookkeeping every flow state carries: which playback it waits for, which timer is armed.
 * Flow states extend this schema; the runtime keeps them in KV and validates them when read back.
 */
export const TurnSchema = z.object({
  /** The playback whose end the flow waits for; finished events of others are stale. */
  playbackId: z.string(),
  playbacks: z.number().int(),
  /** Generation of the inactivity timer; a timeout with another id is stale. */
  timerId: z.number().int(),
  /** Nothing is playing and the flow waits for a key: the current timer is armed. */
  waiting: z.boolean(),
});
export type Turn = z.infer<typeof TurnSchema>;

export const FIRST_TURN: Turn = { playbackId: 'p0', playbacks: 0, timerId: 0, waiting: false };

/** A flow's answer to an event: its next state and what to do (the runtime's common actions among them). */
export interface Step<S, A extends { kind: string }> {
  state: S;
  actions: A[];
}

/**
 * Moves to `phase` and plays `items` there (replacing whatever plays), after the actions `before`;
 * the flow now waits for this playback. With `thenRecord`, media starts recording when it ends.
 */
export function say<S extends Turn & { phase: string }, A extends { kind: string } = CallAction>(
  state: S,
  phase: S['phase'],
  items: Playable[],
  before: A[] = [],
  options: { thenRecord?: { maxDurationMs: number } } = {},
): Step<S, CallAction | A> {
  const playbacks = state.playbacks + 1;
  const playbackId = `p${playbacks}`;
  const play: CallAction = { kind: 'play', playbackId, items, ...(options.thenRecord ? { thenRecord: options.thenRecord } : {}) };
  return { state: { ...state, phase, playbacks, playbackId, waiting: false }, actions: [...before, play] };
}

/** Starts waiting for a key, with a fresh inactivity timer. */
export function wait<S extends Turn>(state: S, ms: number): Step<S, CallAction> {
  const timerId = state.timerId + 1;
  return { state: { ...state, timerId, waiting: true }, actions: [{ kind: 'arm-timer', timerId, ms }] };
}

/** Whether the event ends the playback the flow waits for. */
export const finishes = (state: Turn, event: CallEvent | { kind: string }): boolean =>
  event.kind === 'playback-finished' && (event as Extract<CallEvent, { kind: 'playback-finished' }>).playbackId === state.playbackId;

/** A failure that leaves nothing to say: playing the goodbye itself failed. */
export const nothingToSay = (phase: string, event: CallEvent | { kind: string }): boolean =>
  event.kind === 'failed' && (event as Extract<CallEvent, { kind: 'failed' }>).action === 'play' && phase === 'goodbye';

/** Whether the event is the current inactivity timer running out while the flow waits. */
export const timesOut = (state: Turn, event: CallEvent | { kind: string }): boolean =>
  event.kind === 'timeout' && state.waiting && (event as Extract<CallEvent, { kind: 'timeout' }>).timerId === state.timerId;
