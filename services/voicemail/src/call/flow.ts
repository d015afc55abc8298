/**
 * The leave-a-message call, as a pure state machine (SPEC §2): what to do next, given what just
 * happened. No I/O here; `call-runner.ts` feeds it events from NATS and carries out its actions.
 *
 *   greeting ──(#, or greeting ends)──► beep ──(beep ends)──► recording
 *   recording ──(#)──────────► stop, hand over, hang up
 *   recording ──(caller hangs up)──► stop, hand over
 *   recording ──(maximum length)──► stop, hand over, beep + goodbye, hang up
 *   mode ann: greeting ──(ends)──► hang up (or the final reply after early media)
 */
import type { Playable, VoicemailMode } from '@sipvm/contracts';

export type Phase = 'greeting' | 'beep' | 'recording' | 'goodbye' | 'done';

export interface CallState {
  phase: Phase;
  mode: VoicemailMode;
  /** The playback the machine waits for; finished events of other playbacks are stale. */
  playbackId: string;
  /** Counter for fresh playback ids. */
  playbacks: number;
}

export type CallEvent =
  | { kind: 'playback-finished'; playbackId: string }
  | { kind: 'digit'; digit: string }
  /** The recording reached its maximum length. */
  | { kind: 'recording-limit' }
  /** The caller hung up (or the call failed). */
  | { kind: 'ended' };

export type Action =
  | { kind: 'play'; playbackId: string; items: Playable[] }
  | { kind: 'start-recording' }
  /** Stop recording and hand the message over (deposit); nothing when nothing was recorded. */
  | { kind: 'finish-recording' }
  | { kind: 'hangup'; reason: string }
  /** After an early-media announcement: the final error reply instead of a BYE. */
  | { kind: 'final-reply' };

export interface FlowSettings {
  /** The greeting to play: the caller's own, or the prompt chain the media service resolves. */
  greeting: Playable;
  language: string;
  /** ann mode answered with early media: end with the final reply, not a hang-up. */
  earlyMedia: boolean;
}

export function startCall(mode: VoicemailMode, settings: FlowSettings): { state: CallState; actions: Action[] } {
  const state: CallState = { phase: 'greeting', mode, playbackId: 'p1', playbacks: 1 };
  return { state, actions: [{ kind: 'play', playbackId: state.playbackId, items: [settings.greeting] }] };
}

export function onEvent(state: CallState, event: CallEvent, settings: FlowSettings): { state: CallState; actions: Action[] } {
  if (state.phase === 'done') return { state, actions: [] };
  if (event.kind === 'ended') {
    // The caller is gone: whatever was recorded so far is the message.
    const actions: Action[] = state.phase === 'recording' ? [{ kind: 'finish-recording' }] : [];
    return { state: { ...state, phase: 'done' }, actions };
  }
  const play = (items: Playable[], phase: Phase) => {
    const playbacks = state.playbacks + 1;
    const next: CallState = { ...state, phase, playbacks, playbackId: `p${playbacks}` };
    return { next, action: { kind: 'play', playbackId: next.playbackId, items } as Action };
  };
  const finishedCurrent = event.kind === 'playback-finished' && event.playbackId === state.playbackId;

  switch (state.phase) {
    case 'greeting': {
      if (state.mode === 'ann') {
        if (!finishedCurrent) return { state, actions: [] };
        return { state: { ...state, phase: 'done' }, actions: [settings.earlyMedia ? { kind: 'final-reply' } : { kind: 'hangup', reason: 'announcement played' }] };
      }
      // `#` skips the greeting; playing the beep replaces it.
      if (finishedCurrent || (event.kind === 'digit' && event.digit === '#')) {
        const { next, action } = play([{ kind: 'beep' }], 'beep');
        return { state: next, actions: [action] };
      }
      return { state, actions: [] };
    }
    case 'beep':
      return finishedCurrent ? { state: { ...state, phase: 'recording' }, actions: [{ kind: 'start-recording' }] } : { state, actions: [] };
    case 'recording':
      if (event.kind === 'digit' && event.digit === '#') {
        return { state: { ...state, phase: 'done' }, actions: [{ kind: 'finish-recording' }, { kind: 'hangup', reason: 'message recorded' }] };
      }
      if (event.kind === 'recording-limit') {
        const { next, action } = play([{ kind: 'beep' }, { kind: 'prompt', name: 'max_length_reached', language: settings.language }], 'goodbye');
        return { state: next, actions: [{ kind: 'finish-recording' }, action] };
      }
      return { state, actions: [] };
    case 'goodbye':
      return finishedCurrent ? { state: { ...state, phase: 'done' }, actions: [{ kind: 'hangup', reason: 'maximum message length reached' }] } : { state, actions: [] };
  }
}
