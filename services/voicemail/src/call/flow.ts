/**
 * The leave-a-message call, as a pure state machine: what to do next, given what just happened.
 * No I/O here; the call runtime (packages/service, calls/) feeds it events and carries out its
 * actions, `app.ts` adds the hand-over.
 *
 *   greeting+beep ──(ends: media records from that moment)──► recording
 *   greeting ──(#)──► beep ──(ends: recording)──► recording
 *   recording ──(#)──────────────► hang up, hand over
 *   recording ──(caller hangs up)──► hand over
 *   recording ──(maximum length)──► beep + goodbye, hand over ──(ends)──► hang up
 *   mode ann: greeting ──(ends)──► hang up (or the final reply after early media)
 *
 * The beep and the recording are one step for media (`thenRecord`): nothing travels between the
 * end of the beep and the caller's first word. A hand-over decided before the call's end stays
 * `pending` in the record until it is done, so the end of the call does it again if it was lost.
 */
import { z } from 'zod';
import { VOICEMAIL_MODES, type Playable, type VoicemailMode } from '@sipvm/contracts';
import type { CallAction, CallEvent, Step } from '@sipvm/service';

export const VoicemailStateSchema = z.object({
  phase: z.enum(['greeting', 'beep', 'recording', 'goodbye', 'done']),
  mode: z.enum(VOICEMAIL_MODES),
  /** The playback the flow waits for; finished events of other playbacks are stale. */
  playbackId: z.string(),
  playbacks: z.number().int(),
  /** A hand-over was decided and not yet confirmed: the end of the call does it again. */
  handOverPending: z.boolean(),
});
export type VoicemailState = z.infer<typeof VoicemailStateSchema>;
export type Phase = VoicemailState['phase'];

/** Stops the recording and hands the message over (deposit); nothing when nothing was recorded. */
export type HandOver = { kind: 'hand-over' };
export type Action = CallAction | HandOver;
/** The hand-over's confirmation. */
export type HandedOver = { kind: 'handed-over' };
export type Event = CallEvent | HandedOver;

export interface FlowSettings {
  /** The greeting to play: the caller's own, or the prompt chain the media service resolves. */
  greeting: Playable;
  language: string;
  /** ann mode answered with early media: end with the final reply, not a hang-up. */
  earlyMedia: boolean;
  finalReply: { code: number; reason: string };
  maxMessageMs: number;
}

const BEEP: Playable = { kind: 'beep' };

export function startCall(mode: VoicemailMode, settings: FlowSettings): Step<VoicemailState, Action> {
  const state: VoicemailState = { phase: 'greeting', mode, playbackId: 'p1', playbacks: 1, handOverPending: false };
  if (mode === 'ann') return { record: state, actions: [{ kind: 'play', playbackId: 'p1', items: [settings.greeting] }] };
  return { record: state, actions: [{ kind: 'play', playbackId: 'p1', items: [settings.greeting, BEEP], thenRecord: { maxDurationMs: settings.maxMessageMs } }] };
}

export function onEvent(state: VoicemailState, event: Event, settings: FlowSettings): Step<VoicemailState, Action> {
  const stay = { record: state, actions: [] };
  if (event.kind === 'handed-over') return state.handOverPending ? { record: { ...state, handOverPending: false }, actions: [] } : stay;
  if (event.kind === 'ended') {
    // The caller is gone: whatever was recorded so far is the message (media may have started
    // recording after the beep before its report arrived here, so a greeting asks too).
    const recording = state.mode !== 'ann' && (state.phase !== 'done' && state.phase !== 'goodbye' ? true : state.handOverPending);
    return { record: { ...state, phase: 'done' }, actions: recording ? [{ kind: 'hand-over' }] : [] };
  }
  if (state.phase === 'done') return stay;
  const play = (items: Playable[], phase: Phase, thenRecord?: { maxDurationMs: number }): Step<VoicemailState, Action> => {
    const playbacks = state.playbacks + 1;
    const next: VoicemailState = { ...state, phase, playbacks, playbackId: `p${playbacks}` };
    return { record: next, actions: [{ kind: 'play', playbackId: next.playbackId, items, ...(thenRecord ? { thenRecord } : {}) }] };
  };
  const record = { maxDurationMs: settings.maxMessageMs };
  const finishedCurrent = event.kind === 'playback-finished' && event.playbackId === state.playbackId;

  switch (state.phase) {
    case 'greeting':
    case 'beep': {
      if (state.mode === 'ann') {
        if (!finishedCurrent && !(event.kind === 'failed' && event.action === 'play')) return stay;
        return end(state, settings.earlyMedia ? { kind: 'final-reply', ...settings.finalReply } : { kind: 'hangup', reason: 'announcement played' });
      }
      if (finishedCurrent) {
        // Media started recording when the beep ended; if it could not, ask once more.
        const recordingStarted = event.kind === 'playback-finished' && event.recordingStartedAt !== undefined;
        return { record: { ...state, phase: 'recording' }, actions: recordingStarted ? [] : [{ kind: 'start-recording', maxMs: settings.maxMessageMs }] };
      }
      // `#` skips the greeting: the beep replaces it.
      if (state.phase === 'greeting' && event.kind === 'digit' && event.digit === '#') return play([BEEP], 'beep', record);
      if (event.kind === 'failed' && event.action === 'play') {
        // No greeting to play (its audio could not be had): the beep, at least; else record at once.
        return state.phase === 'greeting' ? play([BEEP], 'beep', record) : { record: { ...state, phase: 'recording' }, actions: [{ kind: 'start-recording', maxMs: settings.maxMessageMs }] };
      }
      return stay;
    }
    case 'recording':
      if (event.kind === 'digit' && event.digit === '#') return handOver(state, 'done', [{ kind: 'hangup', reason: 'message recorded' }]);
      if (event.kind === 'recording-limit') {
        const goodbye = play([BEEP, { kind: 'prompt', name: 'max_length_reached', language: settings.language }], 'goodbye');
        return handOver(goodbye.record, 'goodbye', goodbye.actions);
      }
      if (event.kind === 'failed' && event.action === 'start-recording') return end(state, { kind: 'hangup', reason: 'recording could not start' });
      return stay;
    case 'goodbye':
      return finishedCurrent || (event.kind === 'failed' && event.action === 'play') ? end(state, { kind: 'hangup', reason: 'maximum message length reached' }) : stay;
  }
}

/** The call is over for the flow: `last` is the final word to signaling. */
function end(state: VoicemailState, last: Action): Step<VoicemailState, Action> {
  return { record: { ...state, phase: 'done' }, actions: [last] };
}

/**
 * Hands the message over after `first` (the hang-up or the goodbye: the caller is not kept
 * waiting), marked pending until it is confirmed.
 */
function handOver(state: VoicemailState, phase: Phase, first: Action[]): Step<VoicemailState, Action> {
  return { record: { ...state, phase, handOverPending: true }, actions: [...first, { kind: 'hand-over' }] };
}
