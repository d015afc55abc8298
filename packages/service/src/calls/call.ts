/**
 * What every call flow and the call runtime share: the call's identity as kept in its record, the
 * events every flow gets, and the actions the runtime carries out for every flow. Applications add
 * their own actions (storage work, a hand-over) and the events those produce.
 */
import { z } from 'zod';
import { type Digit, type EndOnSilence, type Playable, type Recording, type TransferMethod } from '@sipvm/contracts';

/** Who holds the call: what every action needs to reach its dialog and its media session. */
export const CallBaseShape = {
  callRef: z.string(),
  callId: z.string(),
  signalingInstance: z.string(),
  mediaInstance: z.string(),
  /** The media node of the session: where its recording is delivered should the instance be gone. */
  mediaNode: z.string(),
};
export interface CallBase {
  callRef: string;
  callId: string;
  signalingInstance: string;
  mediaInstance: string;
  mediaNode: string;
}

/** What happens in every call. */
export type CallEvent =
  /** `stopped`: replaced, stopped on request, or the call closed; `failed`: it could not be played. */
  | { kind: 'playback-finished'; playbackId: string; reason?: 'completed' | 'stopped' | 'failed' | undefined; recordingStartedAt?: string | undefined }
  | { kind: 'digit'; digit: Digit }
  /** An inactivity timer ran out (stale unless it is the call's current one). */
  | { kind: 'timeout'; timerId: number }
  /** Media stopped a recording at its maximum length. */
  | { kind: 'recording-limit' }
  /** Media stopped a recording after sustained silence (`endOnSilence`); `speech`: something was said before it. */
  | { kind: 'silence'; speech: boolean }
  /** The caller hung up (or the call failed). */
  | { kind: 'ended' }
  /** The result of `stop-recording` (unless discarded): null when nothing was recorded. */
  | { kind: 'recorded'; recording: Recording | null }
  /** The result of `transfer`: `transferred` (the caller is with the target now) or `failed` (still here). */
  | { kind: 'transfer'; outcome: 'transferred' | 'failed'; status?: number | undefined }
  /** An action failed (media, storage, …); the actions after it were not carried out. */
  | { kind: 'failed'; action: string };

/** What a recording is asked for: its maximum length and, optionally, the silence that ends it. */
export interface RecordingLimits {
  maxDurationMs: number;
  endOnSilence?: EndOnSilence | undefined;
}

/** What every flow may ask for. */
export type CallAction =
  /** Plays the items, replacing what plays; with `thenRecord` the recording starts when it completes. */
  | { kind: 'play'; playbackId: string; items: Playable[]; thenRecord?: RecordingLimits | undefined }
  | { kind: 'stop-playback' }
  | { kind: 'arm-timer'; timerId: number; ms: number }
  | { kind: 'hangup'; reason: string }
  /** After an early-media announcement: the final error reply instead of a BYE. */
  | { kind: 'final-reply'; code: number; reason: string }
  | { kind: 'start-recording'; maxMs: number; endOnSilence?: EndOnSilence | undefined }
  /** Stops the recording; unless discarded, the result comes back as `recorded`. */
  | { kind: 'stop-recording'; discard: boolean }
  /** Transfers the caller to `target` (a SIP URI); the outcome comes back as `transfer`. */
  | { kind: 'transfer'; target: string; method: TransferMethod };

/** A flow's answer to an event: the call's next record and what to do. */
export interface Step<R, A> {
  record: R;
  actions: A[];
}
