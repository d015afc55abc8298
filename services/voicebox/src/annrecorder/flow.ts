/**
 * The record-your-greeting call, as a pure state machine (docs/behaviour.md §5). No I/O here.
 *
 *   intro ("welcome", the current greeting, "press any key") ──(key)──► beep, then recording
 *   recording ──(key, or maximum length)──► stopping ──(recorded)──► confirm
 *   confirm: 1 keep · 2 record again · 3 delete (back to the default) · timeout: nothing changes
 *   the temporary greeting (`temp`): 1 asks for how many days callers hear it (digits, #), then keeps it
 *   A recording too short to be a greeting is not offered: "too short", beep, record again.
 *   Hang-up before `1` or `3` changes nothing (**fix**: SEMS saves on timeout).
 */
import { z } from 'zod';
import { NAME_GREETING, TEMPORARY_GREETING, type Playable, type StagedAudio } from '@sipvm/contracts';
import type { CallAction, CallEvent } from '@sipvm/service';
import { prompt, type Voice } from '../voicebox/speech.js';
import { FIRST_TURN, finishes, nothingToSay, RecordedAudioSchema, say, timesOut, TurnSchema, wait, type Step } from '../call/turn.js';

export const ANNRECORDER_PHASES = ['intro', 'beep', 'recording', 'stopping', 'confirm', 'until', 'goodbye', 'done'] as const;
export type AnnrecorderPhase = (typeof ANNRECORDER_PHASES)[number];

export const AnnrecorderStateSchema = TurnSchema.extend({
  phase: z.enum(ANNRECORDER_PHASES),
  /** The new greeting, staged, while the caller decides. */
  recording: RecordedAudioSchema.optional(),
  /** Days typed so far (the temporary greeting's end). */
  entered: z.string().default(''),
});
export type AnnrecorderState = z.infer<typeof AnnrecorderStateSchema>;

/** annrecorder's own actions (actions/); the runtime carries out the common ones. */
export type AnnrecorderAction =
  /** Keeps the new greeting; the temporary one for `days` from now. */
  { kind: 'keep-greeting'; audio: StagedAudio; days?: number | undefined } | { kind: 'delete-greeting' } | { kind: 'discard-staged'; audio: StagedAudio };
export type AnnrecorderEvent = CallEvent;
type Action = CallAction | AnnrecorderAction;
type AnnrecorderStep = Step<AnnrecorderState, Action>;

export interface AnnrecorderSettings {
  voice: Voice;
  /** `temp` (the temporary greeting, with its end) and `name` (the recorded name) are said differently. */
  greetingType: string;
  inputTimeoutMs: number;
  maxGreetingMs: number;
  minGreetingMs: number;
  /** The longest a temporary greeting may be kept, in days. */
  maxTemporaryDays: number;
}

/** `current` is the personal greeting when there is one, else the default callers hear. */
export function startAnnrecorder(current: { personal: boolean; greeting: Playable }, settings: AnnrecorderSettings): AnnrecorderStep {
  const p = (name: string) => prompt(settings.voice, name);
  const intro = (): Playable[] => {
    switch (settings.greetingType) {
      case NAME_GREETING:
        return [p('ann_welcome_name'), ...(current.personal ? [p('ann_current_name'), current.greeting] : [p('ann_no_name')])];
      case TEMPORARY_GREETING:
        return [p('ann_welcome_temporary'), ...(current.personal ? [p('ann_current_greeting'), current.greeting] : [p('ann_no_temporary')])];
      default:
        return [p('ann_welcome'), p(current.personal ? 'ann_current_greeting' : 'ann_default_greeting'), current.greeting];
    }
  };
  return say<AnnrecorderState, Action>({ ...FIRST_TURN, phase: 'intro', entered: '' }, 'intro', [...intro(), p('ann_press_any_key')]);
}

export function onAnnrecorderEvent(state: AnnrecorderState, event: AnnrecorderEvent, settings: AnnrecorderSettings): AnnrecorderStep {
  if (state.phase === 'done') return { state, actions: [] };
  const p = (name: string) => prompt(settings.voice, name);
  const unchanged: AnnrecorderStep = { state, actions: [] };
  /** Drops the staged recording, if there is one. */
  const discard: Action[] = state.recording ? [{ kind: 'discard-staged', audio: state.recording.audio }] : [];
  // The beep ends in the recording (media starts it then: no round trip before the first word).
  const recordAgain = (s: AnnrecorderState, items: Playable[], before: Action[] = []) =>
    say<AnnrecorderState, Action>({ ...s, recording: undefined }, 'beep', [...items, { kind: 'beep' }], before, {
      thenRecord: { maxDurationMs: settings.maxGreetingMs },
    });
  const keep = (audio: StagedAudio, days?: number) =>
    say<AnnrecorderState, Action>(
      { ...state, recording: undefined, entered: '' },
      'goodbye',
      [p('ann_saved'), p('goodbye')],
      [
        { kind: 'keep-greeting', audio, ...(days !== undefined ? { days } : {}) },
        { kind: 'discard-staged', audio },
      ],
    );

  switch (event.kind) {
    case 'ended': {
      // Hung up before confirming: nothing is kept, nothing is changed (during the beep, media may
      // have just started the recording).
      const recording = state.phase === 'beep' || state.phase === 'recording' || state.phase === 'stopping';
      const stop: Action[] = recording ? [{ kind: 'stop-recording', discard: true }] : [];
      return { state: { ...state, phase: 'done', recording: undefined }, actions: [...stop, ...discard] };
    }
    case 'failed':
      if (nothingToSay(state.phase, event)) return { state: { ...state, phase: 'done' }, actions: [{ kind: 'hangup', reason: 'technical problem' }] };
      return say({ ...state, recording: undefined }, 'goodbye', [p('technical_problem')], discard);
    case 'timeout':
      if (!timesOut(state, event)) return unchanged;
      return say(
        { ...state, recording: undefined },
        'goodbye',
        [p(state.recording ? 'ann_not_saved' : 'no_input_goodbye'), ...(state.recording ? [p('goodbye')] : [])],
        discard,
      );
    default:
      break;
  }

  switch (state.phase) {
    case 'intro':
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind === 'digit') return recordAgain(state, []);
      return unchanged;
    case 'beep': {
      if (!finishes(state, event)) return unchanged;
      // Media started recording when the beep ended; if it could not, ask once more.
      const started = event.kind === 'playback-finished' && event.recordingStartedAt !== undefined;
      return { state: { ...state, phase: 'recording', waiting: false }, actions: started ? [] : [{ kind: 'start-recording', maxMs: settings.maxGreetingMs }] };
    }
    case 'recording':
      if (event.kind === 'digit' || event.kind === 'recording-limit') {
        return { state: { ...state, phase: 'stopping' }, actions: [{ kind: 'stop-recording', discard: false }] };
      }
      return unchanged;
    case 'stopping': {
      if (event.kind !== 'recorded') return unchanged;
      const { recording } = event;
      if (!recording || recording.durationMs < settings.minGreetingMs) {
        return recordAgain(state, [p('ann_too_short')], recording ? [{ kind: 'discard-staged', audio: recording.audio }] : []);
      }
      const kept = { audio: recording.audio, durationMs: recording.durationMs };
      return say({ ...state, recording: kept }, 'confirm', [p('ann_you_recorded'), { kind: 'staged', audio: recording.audio }, p('ann_confirm')]);
    }
    case 'confirm': {
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind !== 'digit' || !state.recording) return unchanged;
      const { audio } = state.recording;
      switch (event.digit) {
        case '1':
          // The temporary greeting needs its end first.
          if (settings.greetingType === TEMPORARY_GREETING) return say({ ...state, entered: '' }, 'until', [p('ann_temporary_days')]);
          // Kept first, then confirmed: if storing fails the caller hears so instead.
          return keep(audio);
        case '2':
          return recordAgain(state, [], [{ kind: 'discard-staged', audio }]);
        case '3':
          return say(
            { ...state, recording: undefined },
            'goodbye',
            [p('ann_deleted'), p('goodbye')],
            [{ kind: 'delete-greeting' }, { kind: 'discard-staged', audio }],
          );
        default:
          return say(state, 'confirm', [p('invalid_key'), p('ann_confirm')]);
      }
    }
    case 'until': {
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind !== 'digit' || !state.recording) return unchanged;
      if (event.digit === '#') {
        const days = Number(state.entered);
        if (state.entered.length > 0 && days >= 1 && days <= settings.maxTemporaryDays) return keep(state.recording.audio, days);
        return say({ ...state, entered: '' }, 'until', [p('invalid_key'), p('ann_temporary_days')]);
      }
      if (event.digit === '*') return say({ ...state, entered: '' }, 'until', [p('ann_temporary_days')]);
      if (!/^[0-9]$/.test(event.digit)) return unchanged;
      const entered = state.entered.length >= 4 ? state.entered : state.entered + event.digit;
      if (!state.waiting) return { state: { ...state, entered }, actions: [{ kind: 'stop-playback' }] };
      return wait({ ...state, entered }, settings.inputTimeoutMs);
    }
    case 'goodbye':
      return finishes(state, event) ? { state: { ...state, phase: 'done' }, actions: [{ kind: 'hangup', reason: 'annrecorder call ended' }] } : unchanged;
  }
}
