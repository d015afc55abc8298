/**
 * The listen-to-messages call, as a pure state machine (docs/behaviour.md §4). No I/O here; the
 * runtime feeds it events and carries out its actions.
 *
 *   pin ──(digits, #)──► checking-pin ──(right)──► loading ──► summary ──► announce ⇄ message ⇄ menu
 *    ▲                        │ (wrong: again, until the tries are spent; locked: goodbye)
 *    └────────────────────────┘
 *   announce: "first/next urgent/new/saved message" (and the envelope when always on), then the
 *   message; message ends → the menu prompt → wait for a key; after the last message → end ("no
 *   more messages", start over or exit). Moving past the page held asks for the next one
 *   (pages.ts: `paging` until it arrives). The forward key hands over to forward.ts. Every wait
 *   has a timeout that says goodbye.
 * Sequence: docs/flows/voicebox-session.md
 */
import type { MessageInfo } from '@sipvm/contracts';
import { FIRST_TURN, finishes, nothingToSay, say, timesOut, wait } from '../call/turn.js';
import { commandFor, type MenuCommand } from './keys.js';
import { envelope, prompt, summary } from './speech.js';
import type { MailboxEntry, VoiceboxEvent } from './events.js';
import { advance, announce, goBack, pageLoaded } from './pages.js';
import { onForward, startForward } from './forward.js';
import type { VoiceboxSettings, VoiceboxState, VoiceboxStep } from './state.js';

export { VoiceboxStateSchema, type VoiceboxSettings, type VoiceboxState } from './state.js';

/** A message of a listing as the voicebox keeps it; `asNew`: new when the session began. */
export function entryOf(message: MessageInfo, asNew: boolean): MailboxEntry {
  return { id: message.id, sender: message.sender, recordedAt: message.recordedAt, read: !asNew, wasNew: asNew, deleted: false, urgent: message.urgent };
}

/** The longest PIN accepted; more digits make a wrong PIN, not a longer one. */
const PIN_MAX = 16;

export function startVoicebox(situation: { pinRequired: boolean; locked: boolean }, settings: VoiceboxSettings): VoiceboxStep {
  const state: VoiceboxState = {
    ...FIRST_TURN,
    phase: 'loading',
    entered: '',
    tries: 0,
    welcome: true,
    heard: [],
    segment: 'new',
    page: [],
    cursor: 0,
    before: 0,
    more: false,
    prefix: [],
  };
  const p = (name: string) => prompt(settings.voice, name);
  if (situation.locked) return say(state, 'goodbye', [p('mailbox_locked')]);
  if (situation.pinRequired) return say({ ...state, welcome: false }, 'pin', [p('welcome_voicebox'), p('enter_pin')]);
  return { state, actions: [{ kind: 'load-mailbox' }] };
}

export function onVoiceboxEvent(state: VoiceboxState, event: VoiceboxEvent, settings: VoiceboxSettings): VoiceboxStep {
  if (state.phase === 'done') return { state, actions: [] };
  const p = (name: string) => prompt(settings.voice, name);
  const unchanged: VoiceboxStep = { state, actions: [] };

  switch (event.kind) {
    case 'ended': {
      // Hung up while recording an introduction: it is dropped (media may have just started it).
      const recording = state.phase === 'forward-recording' || state.phase === 'forward-stopping';
      const introduction = state.forward?.introduction;
      return {
        state: { ...state, phase: 'done' },
        actions: [
          ...(recording ? [{ kind: 'stop-recording' as const, discard: true }] : []),
          ...(introduction ? [{ kind: 'discard-staged' as const, audio: introduction.audio }] : []),
        ],
      };
    }
    case 'failed':
      // Whatever failed, the caller is told; a failure while saying goodbye just ends the call.
      if (nothingToSay(state.phase, event)) return { state: { ...state, phase: 'done' }, actions: [{ kind: 'hangup', reason: 'technical problem' }] };
      return say(state, 'goodbye', [p('technical_problem')]);
    case 'timeout':
      return timesOut(state, event) ? say(state, 'goodbye', [p('no_input_goodbye')]) : unchanged;
    default:
      break;
  }
  if (state.phase === 'goodbye') {
    return finishes(state, event) ? { state: { ...state, phase: 'done' }, actions: [{ kind: 'hangup', reason: 'voicebox call ended' }] } : unchanged;
  }

  switch (state.phase) {
    case 'pin':
      return pinEntry(state, event, settings);
    case 'checking-pin':
      if (event.kind !== 'pin-checked') return unchanged;
      if (event.outcome === 'locked') return say(state, 'goodbye', [p('mailbox_locked')]);
      if (event.outcome === 'right') return { state: { ...state, phase: 'loading', tries: 0 }, actions: [{ kind: 'load-mailbox' }] };
      {
        const tries = state.tries + 1;
        if (tries >= settings.pinTries) return say({ ...state, tries }, 'goodbye', [p('wrong_pin'), p('goodbye')]);
        return say({ ...state, tries }, 'pin', [p('wrong_pin'), p('enter_pin')]);
      }
    case 'loading': {
      if (event.kind !== 'mailbox-loaded') return unchanged;
      const welcome = state.welcome ? [p('welcome_voicebox')] : [];
      const next: VoiceboxState = {
        ...state,
        welcome: false,
        heard: [],
        segment: event.segment,
        page: event.page,
        cursor: 0,
        before: 0,
        more: event.more,
        prefix: [],
      };
      if (event.page.length === 0) return say(next, 'goodbye', [...welcome, p('no_messages'), p('goodbye')]);
      return say(next, 'summary', [...welcome, ...summary(settings.voice, event.counts)]);
    }
    case 'summary':
      if (finishes(state, event)) return announce(state, 0, [], settings);
      if (event.kind === 'digit') {
        const command = commandFor(settings.keys, event.digit);
        if (command === 'skip' || command === 'next') return announce(state, 0, [], settings);
        if (command === 'exit') return say(state, 'goodbye', [p('goodbye')]);
      }
      return unchanged;
    case 'paging':
      return event.kind === 'page-loaded' ? pageLoaded(state, event, settings) : unchanged;
    case 'announce':
    case 'message':
    case 'menu':
      return messageMenu(state, event, settings);
    case 'forward-number':
    case 'forward-choice':
    case 'forward-recording':
    case 'forward-stopping':
    case 'forwarding':
      return onForward(state, event, settings);
    case 'end':
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind !== 'digit') return unchanged;
      switch (commandFor(settings.keys, event.digit)) {
        case 'startOver':
          return startOver(state);
        case 'exit':
          return say(state, 'goodbye', [p('goodbye')]);
        case 'previous':
          if (state.page.length > 0) return goBack(state, state.page.length, settings);
          break;
        default:
          break;
      }
      return say(state, 'end', [p('invalid_key'), p('no_more_messages')]);
  }
}

function pinEntry(state: VoiceboxState, event: VoiceboxEvent, settings: VoiceboxSettings): VoiceboxStep {
  if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
  if (event.kind !== 'digit') return { state, actions: [] };
  if (event.digit === '#') {
    return {
      state: { ...state, phase: 'checking-pin', entered: '', waiting: false, timerId: state.timerId + 1 },
      actions: [{ kind: 'check-pin', entered: state.entered }],
    };
  }
  if (event.digit === '*') return say({ ...state, entered: '' }, 'pin', [prompt(settings.voice, 'enter_pin')]);
  if (!/^[0-9]$/.test(event.digit)) return { state, actions: [] };
  const entered = state.entered.length > PIN_MAX ? state.entered : state.entered + event.digit;
  // The first digit cuts the prompt short; every digit restarts the wait for the next.
  if (!state.waiting) return { state: { ...state, entered }, actions: [{ kind: 'stop-playback' }] };
  return wait({ ...state, entered }, settings.inputTimeoutMs);
}

function messageMenu(state: VoiceboxState, event: VoiceboxEvent, settings: VoiceboxSettings): VoiceboxStep {
  const p = (name: string) => prompt(settings.voice, name);
  const current = state.page[state.cursor];
  if (!current) return say(state, 'goodbye', [p('technical_problem')]);
  if (finishes(state, event)) {
    switch (state.phase) {
      case 'announce':
        return hear(state, settings);
      case 'message':
        return say(state, 'menu', [p('message_menu')]);
      default:
        return wait(state, settings.inputTimeoutMs);
    }
  }
  if (event.kind !== 'digit') return { state, actions: [] };
  const command: MenuCommand | undefined = commandFor(settings.keys, event.digit);
  switch (command) {
    case 'repeat':
      return hear(state, settings);
    case 'save': {
      if (current.read) return advance(state, [p('message_saved')], settings);
      return advance(
        { ...state, page: withEntry(state.page, state.cursor, { read: true }), heard: heardNow(state, current.id) },
        [p('message_saved')],
        settings,
        [{ kind: 'mark-read', id: current.id }],
      );
    }
    case 'delete':
      return advance({ ...state, page: withEntry(state.page, state.cursor, { deleted: true }) }, [p('message_deleted')], settings, [
        { kind: 'delete-message', id: current.id },
      ]);
    case 'next':
      return advance(state, [], settings);
    case 'previous':
      return goBack(state, state.cursor, settings);
    case 'startOver':
      return startOver(state);
    case 'envelope':
      return say(state, 'menu', envelope(settings.voice, current, settings.timeZone));
    case 'forward':
      return startForward(state, settings);
    case 'help':
      return say(state, 'menu', [p('help')]);
    case 'skip':
      return say(state, 'menu', [p('message_menu')]);
    case 'exit':
      return say(state, 'goodbye', [p('goodbye')]);
    case undefined:
      return say(state, 'menu', [p('invalid_key'), p('message_menu')]);
  }
}

/** Plays the current message; a new one counts as heard (read) once its playback has begun. */
function hear(state: VoiceboxState, settings: VoiceboxSettings): VoiceboxStep {
  const current = state.page[state.cursor]!;
  const step = say(state, 'message', [{ kind: 'message', mailbox: settings.mailbox, id: current.id }]);
  if (current.read) return step;
  return {
    state: { ...step.state, page: withEntry(state.page, state.cursor, { read: true }), heard: heardNow(state, current.id) },
    actions: [...step.actions, { kind: 'mark-read', id: current.id }],
  };
}

/**
 * The messages heard in this session, with one more: they stay new for its pages. Bounded (a
 * caller hears a few dozen); past the bound the oldest may show again among the saved ones.
 */
function heardNow(state: VoiceboxState, id: string): string[] {
  return [...state.heard, id].slice(-HEARD_MAX);
}
const HEARD_MAX = 500;

/** From the top: the mailbox is read again (messages may have arrived) and summarised. */
function startOver(state: VoiceboxState): VoiceboxStep {
  return { state: { ...state, phase: 'loading', waiting: false, prefix: [] }, actions: [{ kind: 'stop-playback' }, { kind: 'load-mailbox' }] };
}

function withEntry(page: MailboxEntry[], index: number, change: Partial<MailboxEntry>): MailboxEntry[] {
  return page.map((m, i) => (i === index ? { ...m, ...change } : m));
}
