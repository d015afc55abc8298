/**
 * Forwarding the current message to another mailbox of the domain (docs/behaviour.md §4), a
 * part of the voicebox flow. Pure, like it.
 *
 *   forward key ──► "enter the mailbox number, then #" ──(digits, #)──► "1 to record an
 *   introduction, 2 to forward it as it is" ──(1)──► beep, recording ──(any key, or its maximum)──►
 *   forwarding ──(2)──────────────────────────────────────────────────────────────────────────────┘
 *   forwarding ──(forwarded / full / invalid)──► said so, then the menu of the message again
 *   `*` at any step before the forwarding: cancelled, back to the menu.
 */
import { say, wait, finishes } from '../call/turn.js';
import { prompt } from './speech.js';
import type { VoiceboxEvent } from './events.js';
import type { VoiceboxSettings, VoiceboxState, VoiceboxStep } from './state.js';

/** Mailbox numbers are at most this long (MailboxIdSchema allows 64; a keypad number is shorter). */
const NUMBER_MAX = 32;

export function startForward(state: VoiceboxState, settings: VoiceboxSettings): VoiceboxStep {
  return say({ ...state, entered: '', forward: undefined }, 'forward-number', [prompt(settings.voice, 'forward_enter_number')], [{ kind: 'stop-playback' }]);
}

export function onForward(state: VoiceboxState, event: VoiceboxEvent, settings: VoiceboxSettings): VoiceboxStep {
  const p = (name: string) => prompt(settings.voice, name);
  const unchanged: VoiceboxStep = { state, actions: [] };
  const current = state.page[state.cursor];
  /** Back to the message's menu, with what to say first. */
  const back = (items: string[], before: VoiceboxStep['actions'] = []) =>
    say({ ...state, entered: '', forward: undefined }, 'menu', [...items.map(p), p('message_menu')], before);
  const introduction = state.forward?.introduction;
  const discard: VoiceboxStep['actions'] = introduction ? [{ kind: 'discard-staged', audio: introduction.audio }] : [];

  switch (state.phase) {
    case 'forward-number': {
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind !== 'digit') return unchanged;
      if (event.digit === '*') return back(['forward_cancelled']);
      if (event.digit === '#') {
        if (state.entered.length === 0 || !current) return back(['forward_invalid_mailbox']);
        return say({ ...state, forward: { to: state.entered }, entered: '' }, 'forward-choice', [p('forward_introduction_choice')]);
      }
      if (!/^[0-9]$/.test(event.digit)) return unchanged;
      const entered = state.entered.length >= NUMBER_MAX ? state.entered : state.entered + event.digit;
      // As with the PIN: the first digit cuts the prompt short, every digit restarts the wait.
      if (!state.waiting) return { state: { ...state, entered }, actions: [{ kind: 'stop-playback' }] };
      return wait({ ...state, entered }, settings.inputTimeoutMs);
    }
    case 'forward-choice': {
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind !== 'digit' || !state.forward || !current) return unchanged;
      if (event.digit === '*') return back(['forward_cancelled']);
      if (event.digit === '1') {
        // The beep ends in the recording (media starts it then).
        return say(state, 'forward-recording', [{ kind: 'beep' }], [], { thenRecord: { maxDurationMs: settings.introductionMaxMs } });
      }
      if (event.digit === '2' || event.digit === '#') {
        return { state: { ...state, phase: 'forwarding', waiting: false }, actions: [{ kind: 'forward-message', id: current.id, to: state.forward.to }] };
      }
      return say(state, 'forward-choice', [p('invalid_key'), p('forward_introduction_choice')]);
    }
    case 'forward-recording':
      if (event.kind === 'playback-finished' && event.playbackId === state.playbackId) {
        // Media started recording when the beep ended; if it could not, ask once more.
        return event.recordingStartedAt !== undefined ? unchanged : { state, actions: [{ kind: 'start-recording', maxMs: settings.introductionMaxMs }] };
      }
      if (event.kind === 'digit' || event.kind === 'recording-limit') {
        return { state: { ...state, phase: 'forward-stopping' }, actions: [{ kind: 'stop-recording', discard: false }] };
      }
      return unchanged;
    case 'forward-stopping': {
      if (event.kind !== 'recorded' || !state.forward || !current) return unchanged;
      const { recording } = event;
      const kept = recording ? { audio: recording.audio, durationMs: recording.durationMs } : undefined;
      return {
        state: { ...state, phase: 'forwarding', forward: { to: state.forward.to, ...(kept ? { introduction: kept } : {}) } },
        actions: [{ kind: 'forward-message', id: current.id, to: state.forward.to, ...(kept ? { introduction: kept.audio } : {}) }],
      };
    }
    case 'forwarding':
      if (event.kind !== 'forwarded') return unchanged;
      return back(
        [event.outcome === 'forwarded' ? 'message_forwarded' : event.outcome === 'full' ? 'forward_mailbox_full' : 'forward_invalid_mailbox'],
        discard,
      );
    default:
      return unchanged;
  }
}
