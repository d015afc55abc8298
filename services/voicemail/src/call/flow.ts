/**
 * The leave-a-message call, as a pure state machine: what to do next, given what just happened.
 * No I/O here; the call runtime (packages/service, calls/) feeds it events and carries out its
 * actions, `app.ts` adds the hand-over.
 *
 *   greeting+beep ──(ends: media records from that moment)──► recording
 *   greeting ──(#)──► beep ──(ends: recording)──► recording
 *   recording ──(#)──────────────► hang up, hand over
 *   recording ──(#, urgent offered)──► "press 1 for urgent" ──(1)──► "marked urgent", hand over ──► hang up
 *                                              └──(no key in time, another key, hang-up)──► hand over, hang up
 *   recording ──(caller hangs up)──► hand over
 *   recording ──(maximum length)──► beep + goodbye, hand over ──(ends)──► hang up
 *   recording ──(sustained silence)──► closing, hand over ──(ends)──► hang up
 *   mode ann: greeting ──(ends)──► hang up (or the final reply after early media)
 *   a full mailbox (mode box): "the mailbox is full" ──(ends)──► hang up; nothing is recorded
 *
 *   greeting, beep or recording ──(0, with an operator)──► "connecting" (the message so far is
 *     handed over, or dropped) ──(ends)──► transferring ──(transferred)──► done
 *   transferring ──(failed)──► "cannot be reached", leave a message + beep ──► recording
 *     (mode ann: "cannot be reached", goodbye ──► hang up)
 *
 * The beep and the recording are one step for media (`thenRecord`): nothing travels between the
 * end of the beep and the caller's first word. A hand-over decided before the call's end stays
 * `pending` in the record until it is done, so the end of the call does it again if it was lost.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md, docs/flows/transfer.md
 */
import { z } from 'zod';
import { VOICEMAIL_MODES, type EndOnSilence, type Playable, type TransferMethod, type VoicemailMode } from '@sipvm/contracts';
import type { CallAction, CallEvent, Step } from '@sipvm/service';

export const VoicemailStateSchema = z.object({
  phase: z.enum(['greeting', 'beep', 'recording', 'urgent', 'goodbye', 'operator', 'transferring', 'full', 'done']),
  mode: z.enum(VOICEMAIL_MODES),
  /** The playback the flow waits for; finished events of other playbacks are stale. */
  playbackId: z.string(),
  playbacks: z.number().int(),
  /** A hand-over was decided and not yet confirmed: the end of the call does it again. */
  handOverPending: z.boolean(),
  /** Why the call ends once the goodbye has played. */
  goodbyeReason: z.string().max(64).optional(),
  /** The caller marked the message urgent. */
  urgent: z.boolean().default(false),
  /** Generation of the wait for the urgent key; a timeout with another id is stale. */
  timerId: z.number().int().default(0),
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
  /** The greeting to play: the caller's own, their name and the system's phrase, or the prompt chain media resolves. */
  greeting: Playable[];
  language: string;
  /** ann mode answered with early media: it ends with this final reply, not a hang-up. */
  earlyMedia?: { finalReply: { code: number; reason: string } } | undefined;
  maxMessageMs: number;
  /** Sustained silence ends the recording; undefined: it does not. */
  endOnSilence?: EndOnSilence | undefined;
  /** Where `0` transfers the caller, how, and what becomes of the message so far; undefined: `0` is no key. */
  operator?: OperatorSettings | undefined;
  /** After `#`, the caller may press 1 within `urgentWaitMs` to mark the message urgent. */
  offerUrgent: boolean;
  urgentWaitMs: number;
}

export interface OperatorSettings {
  uri: string;
  method: TransferMethod;
  /** What was recorded before `0`: handed over like any message, or dropped. */
  recording: 'keep' | 'drop';
}

const BEEP: Playable = { kind: 'beep' };

/** What media is asked to record: the maximum length and, when enabled, the silence that ends it. */
function recordingLimits(settings: FlowSettings): { maxDurationMs: number; endOnSilence?: EndOnSilence } {
  return { maxDurationMs: settings.maxMessageMs, ...(settings.endOnSilence ? { endOnSilence: settings.endOnSilence } : {}) };
}

/**
 * The first step of a call. `full`: the mailbox holds its most messages, so a caller who could only
 * leave one there (mode box) hears so and nothing is recorded (the app makes mode both mail only).
 */
export function startCall(mode: VoicemailMode, settings: FlowSettings, situation: { full: boolean } = { full: false }): Step<VoicemailState, Action> {
  const state: VoicemailState = { phase: 'greeting', mode, playbackId: 'p1', playbacks: 1, handOverPending: false, urgent: false, timerId: 0 };
  if (situation.full && mode === 'box') {
    return {
      record: { ...state, phase: 'full' },
      actions: [{ kind: 'play', playbackId: 'p1', items: [{ kind: 'prompt', name: 'mailbox_full', language: settings.language }] }],
    };
  }
  if (mode === 'ann') return { record: state, actions: [{ kind: 'play', playbackId: 'p1', items: settings.greeting }] };
  return { record: state, actions: [{ kind: 'play', playbackId: 'p1', items: [...settings.greeting, BEEP], thenRecord: recordingLimits(settings) }] };
}

export function onEvent(state: VoicemailState, event: Event, settings: FlowSettings): Step<VoicemailState, Action> {
  const stay = { record: state, actions: [] };
  if (event.kind === 'handed-over') return state.handOverPending ? { record: { ...state, handOverPending: false }, actions: [] } : stay;
  if (event.kind === 'ended') {
    // The caller is gone: whatever was recorded so far is the message (media may have started
    // recording after the beep before its report arrived here, so a greeting asks too). After
    // the recording ended (goodbye, operator) only a hand-over not yet confirmed is done again.
    const recordingNow = state.phase === 'greeting' || state.phase === 'beep' || state.phase === 'recording';
    const recording = state.mode !== 'ann' && (recordingNow || state.handOverPending);
    return { record: { ...state, phase: 'done' }, actions: recording ? [{ kind: 'hand-over' }] : [] };
  }
  if (state.phase === 'done') return stay;
  const play = (items: Playable[], phase: Phase, thenRecord?: { maxDurationMs: number }): Step<VoicemailState, Action> => {
    const playbacks = state.playbacks + 1;
    const next: VoicemailState = { ...state, phase, playbacks, playbackId: `p${playbacks}` };
    return { record: next, actions: [{ kind: 'play', playbackId: next.playbackId, items, ...(thenRecord ? { thenRecord } : {}) }] };
  };
  const prompt = (name: string): Playable => ({ kind: 'prompt', name, language: settings.language });
  const goodbye = (items: Playable[], reason: string) => {
    const next = play(items, 'goodbye');
    return { ...next, record: { ...next.record, goodbyeReason: reason } };
  };
  const record = recordingLimits(settings);
  const startRecording: Action = {
    kind: 'start-recording',
    maxMs: record.maxDurationMs,
    ...(record.endOnSilence ? { endOnSilence: record.endOnSilence } : {}),
  };
  const { operator } = settings;
  // `0` with an operator, while the greeting plays or the caller records: "connecting", then the
  // transfer. What was recorded is handed over or dropped now; during the greeting media may have
  // started recording a moment ago, and that is dropped.
  if (operator && event.kind === 'digit' && event.digit === '0' && (state.phase === 'greeting' || state.phase === 'beep' || state.phase === 'recording')) {
    if (state.mode === 'ann' && settings.earlyMedia) return stay; // no dialog to transfer yet
    const connecting = play([prompt('connecting_operator')], 'operator');
    if (state.mode === 'ann') return connecting;
    if (state.phase === 'recording' && operator.recording === 'keep') return handOver(connecting.record, 'operator', connecting.actions);
    return { ...connecting, actions: [...connecting.actions, { kind: 'stop-recording', discard: true }] };
  }
  const finishedCurrent = event.kind === 'playback-finished' && event.playbackId === state.playbackId;
  // Stopped before its end: the call is closing (its end comes next); nothing starts now.
  if (finishedCurrent && event.reason === 'stopped') return stay;

  switch (state.phase) {
    case 'greeting':
    case 'beep': {
      if (state.mode === 'ann') {
        if (!finishedCurrent && !(event.kind === 'failed' && event.action === 'play')) return stay;
        return end(state, settings.earlyMedia ? { kind: 'final-reply', ...settings.earlyMedia.finalReply } : { kind: 'hangup', reason: 'announcement played' });
      }
      if (finishedCurrent) {
        // Media started recording when the beep ended; if it could not, ask once more.
        const recordingStarted = event.kind === 'playback-finished' && event.recordingStartedAt !== undefined;
        return { record: { ...state, phase: 'recording' }, actions: recordingStarted ? [] : [startRecording] };
      }
      // `#` skips the greeting: the beep replaces it.
      if (state.phase === 'greeting' && event.kind === 'digit' && event.digit === '#') return play([BEEP], 'beep', record);
      if (event.kind === 'failed' && event.action === 'play') {
        // No greeting to play (its audio could not be had): the beep, at least; else record at once.
        return state.phase === 'greeting' ? play([BEEP], 'beep', record) : { record: { ...state, phase: 'recording' }, actions: [startRecording] };
      }
      return stay;
    }
    case 'full':
      return finishedCurrent || (event.kind === 'failed' && event.action === 'play') ? end(state, { kind: 'hangup', reason: 'mailbox full' }) : stay;
    case 'recording':
      if (event.kind === 'digit' && event.digit === '#') {
        if (!settings.offerUrgent) return handOver(state, 'done', [{ kind: 'hangup', reason: 'message recorded' }]);
        // The message is complete: its recording stops now, and it is handed over once the caller
        // chose (or did not); a hang-up meanwhile hands it over as it is (pending).
        const offer = play([prompt('urgent_offer')], 'urgent');
        return { record: { ...offer.record, handOverPending: true }, actions: [{ kind: 'stop-recording', discard: false }, ...offer.actions] };
      }
      if (event.kind === 'recording-limit') {
        const closing = goodbye([BEEP, prompt('max_length_reached')], 'maximum message length reached');
        return handOver(closing.record, 'goodbye', closing.actions);
      }
      if (event.kind === 'silence') {
        // A message of silence is handed over too: the deposit check discards it, as ever.
        const closing = goodbye([prompt(event.speech ? 'message_recorded' : 'goodbye')], 'silence ended the message');
        return handOver(closing.record, 'goodbye', closing.actions);
      }
      if (event.kind === 'failed' && event.action === 'start-recording') return end(state, { kind: 'hangup', reason: 'recording could not start' });
      return stay;
    case 'urgent': {
      if (finishedCurrent) {
        const timerId = state.timerId + 1;
        return { record: { ...state, timerId }, actions: [{ kind: 'arm-timer', timerId, ms: settings.urgentWaitMs }] };
      }
      if (event.kind === 'digit' && event.digit === '1') {
        const marked = goodbye([prompt('message_marked_urgent')], 'message recorded');
        return { record: { ...marked.record, urgent: true }, actions: [...marked.actions, { kind: 'hand-over' }] };
      }
      const timedOut = event.kind === 'timeout' && event.timerId === state.timerId;
      const failed = event.kind === 'failed' && event.action === 'play';
      if (event.kind === 'digit' || timedOut || failed)
        return handOver({ ...state, timerId: state.timerId + 1 }, 'done', [{ kind: 'hangup', reason: 'message recorded' }]);
      return stay;
    }
    case 'goodbye':
      return finishedCurrent || (event.kind === 'failed' && event.action === 'play')
        ? end(state, { kind: 'hangup', reason: state.goodbyeReason ?? 'goodbye played' })
        : stay;
    case 'operator':
      if (!operator || !(finishedCurrent || (event.kind === 'failed' && event.action === 'play'))) return stay;
      return { record: { ...state, phase: 'transferring' }, actions: [{ kind: 'transfer', target: operator.uri, method: operator.method }] };
    case 'transferring': {
      const failed = (event.kind === 'transfer' && event.outcome === 'failed') || (event.kind === 'failed' && event.action === 'transfer');
      if (event.kind === 'transfer' && event.outcome === 'transferred') return { record: { ...state, phase: 'done' }, actions: [] };
      if (!failed) return stay;
      // Still here: say so, then the caller may leave a message after all (ann: goodbye).
      if (state.mode === 'ann') return goodbye([prompt('operator_unavailable'), prompt('goodbye')], 'operator not reached');
      return play([prompt('operator_unavailable'), prompt('leave_message_after_tone'), BEEP], 'beep', record);
    }
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
