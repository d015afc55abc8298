/**
 * What the voicebox and annrecorder flows and the call runner say to each other.
 *
 * The flows (voicebox/flow.ts, annrecorder/flow.ts) are pure: given the call's state and what just
 * happened, they return the next state and the actions to carry out. The call runtime (service kit)
 * turns NATS events into `CallEvent`s and carries the common actions out; app.ts does the rest, and
 * the results of those that have one (a mailbox listing, a PIN check, a recording) come back as
 * events.
 */
import { z } from 'zod';
import { MessageIdSchema, StagedAudioSchema, type MessageId, type Playable, type StagedAudio } from '@sipvm/contracts';
import type { CallAction, CallEvent as RuntimeEvent } from '@sipvm/service';

/** A message as the voicebox keeps it for the length of a call. */
export const MailboxEntrySchema = z.object({
  id: MessageIdSchema,
  sender: z.string(),
  recordedAt: z.string(),
  /** Heard (saved) now: set when its playback begins. */
  read: z.boolean(),
  /** New when the call loaded it: decides "first/next new message" vs "saved". */
  wasNew: z.boolean(),
  deleted: z.boolean(),
});
export type MailboxEntry = z.infer<typeof MailboxEntrySchema>;

export const RecordedGreetingSchema = z.object({ audio: StagedAudioSchema, durationMs: z.number().int().nonnegative() });
export type RecordedGreeting = z.infer<typeof RecordedGreetingSchema>;

/** What happens in a call (the runtime's events), and what the runner's own work found out. */
export type CallEvent =
  | RuntimeEvent
  | { kind: 'mailbox-loaded'; messages: MailboxEntry[] }
  | { kind: 'pin-checked'; outcome: 'right' | 'wrong' | 'locked' };

/** The voicebox's and annrecorder's own actions (the runtime carries out the common ones). */
export type VoiceboxAction =
  /** Lists the mailbox; the result comes back as `mailbox-loaded`. */
  | { kind: 'load-mailbox' }
  /** Checks the PIN (lock-out, constant-time compare); the result comes back as `pin-checked`. */
  | { kind: 'check-pin'; entered: string }
  | { kind: 'mark-read'; id: MessageId }
  | { kind: 'delete-message'; id: MessageId }
  | { kind: 'keep-greeting'; audio: StagedAudio }
  | { kind: 'delete-greeting' }
  | { kind: 'discard-staged'; audio: StagedAudio };

export type Action = CallAction | VoiceboxAction;

/**
 * The bookkeeping every flow state carries: which playback it waits for, which timer is armed.
 * Flow states extend this schema; the runner keeps them in KV and validates them when read back.
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

/**
 * Moves to `phase` and plays `items` there (replacing whatever plays), after the actions `before`;
 * the flow now waits for this playback. With `thenRecord`, media starts recording when it ends.
 */
export function say<S extends Turn & { phase: string }>(
  state: S,
  phase: S['phase'],
  items: Playable[],
  before: Action[] = [],
  options: { thenRecord?: { maxDurationMs: number } } = {},
): Step<S> {
  const playbacks = state.playbacks + 1;
  const playbackId = `p${playbacks}`;
  const play: Action = { kind: 'play', playbackId, items, ...(options.thenRecord ? { thenRecord: options.thenRecord } : {}) };
  return { state: { ...state, phase, playbacks, playbackId, waiting: false }, actions: [...before, play] };
}

/** Starts waiting for a key, with a fresh inactivity timer. */
export function wait<S extends Turn>(state: S, ms: number): Step<S> {
  const timerId = state.timerId + 1;
  return { state: { ...state, timerId, waiting: true }, actions: [{ kind: 'arm-timer', timerId, ms }] };
}

/** Whether the event ends the playback the flow waits for. */
export const finishes = (state: Turn, event: CallEvent): boolean => event.kind === 'playback-finished' && event.playbackId === state.playbackId;

/** A failure that leaves nothing to say: playing the goodbye itself failed. */
export const nothingToSay = (phase: string, event: CallEvent): boolean => event.kind === 'failed' && event.action === 'play' && phase === 'goodbye';

/** Whether the event is the current inactivity timer running out while the flow waits. */
export const timesOut = (state: Turn, event: CallEvent): boolean => event.kind === 'timeout' && state.waiting && event.timerId === state.timerId;

export interface Step<S> {
  state: S;
  actions: Action[];
}
