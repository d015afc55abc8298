/**
 * The listen-to-messages call, as a pure state machine (docs/behaviour.md §4). No I/O here; the runner feeds it
 * events and carries out its actions.
 *
 *   pin ──(digits, #)──► checking-pin ──(right)──► loading ──► summary ──► announce ⇄ message ⇄ menu
 *    ▲                        │ (wrong: again, until the tries are spent; locked: goodbye)
 *    └────────────────────────┘
 *   announce: "first/next new/saved message" (and the envelope when always on), then the message;
 *   message ends → the menu prompt → wait for a key; after the last message → end ("no more
 *   messages", start over or exit). Every wait has a timeout that says goodbye.
 */
import { z } from 'zod';
import type { Mailbox, MessageInfo, Playable } from '@sipvm/contracts';
import { commandFor, type KeyMap, type MenuCommand } from './keys.js';
import { envelope, prompt, summary, type Voice } from './speech.js';
import { FIRST_TURN, finishes, MailboxEntrySchema, nothingToSay, say, timesOut, TurnSchema, wait, type Action, type CallEvent, type MailboxEntry, type Step } from '../call/turn.js';

export const VOICEBOX_PHASES = ['pin', 'checking-pin', 'loading', 'summary', 'announce', 'message', 'menu', 'end', 'goodbye', 'done'] as const;
export type VoiceboxPhase = (typeof VOICEBOX_PHASES)[number];

export const VoiceboxStateSchema = TurnSchema.extend({
  phase: z.enum(VOICEBOX_PHASES),
  /** PIN digits entered so far. */
  entered: z.string(),
  /** Wrong PINs in this call. */
  tries: z.number().int(),
  /** Welcome not said yet (it is said with the PIN prompt, or with the summary). */
  welcome: z.boolean(),
  messages: z.array(MailboxEntrySchema),
  /** Index of the current message in `messages`. */
  cursor: z.number().int(),
});
export type VoiceboxState = z.infer<typeof VoiceboxStateSchema>;

export interface VoiceboxSettings {
  mailbox: Mailbox;
  voice: Voice;
  keys: KeyMap;
  inputTimeoutMs: number;
  pinTries: number;
  envelope: 'on-request' | 'always';
  timeZone: string;
}

/** The order messages are played in: new ones first, then saved; each newest (or oldest) first. */
export function playOrder(messages: readonly MessageInfo[], order: 'newest-first' | 'oldest-first'): MailboxEntry[] {
  const sign = order === 'newest-first' ? -1 : 1;
  const byTime = [...messages].sort((a, b) => sign * (Date.parse(a.recordedAt) - Date.parse(b.recordedAt) || a.id.localeCompare(b.id)));
  return [...byTime.filter((m) => !m.read), ...byTime.filter((m) => m.read)].map((m) => ({
    id: m.id,
    sender: m.sender,
    recordedAt: m.recordedAt,
    read: m.read,
    wasNew: !m.read,
    deleted: false,
  }));
}

/** The longest PIN accepted; more digits make a wrong PIN, not a longer one. */
const PIN_MAX = 16;

export function startVoicebox(situation: { pinRequired: boolean; locked: boolean }, settings: VoiceboxSettings): Step<VoiceboxState> {
  const state: VoiceboxState = { ...FIRST_TURN, phase: 'loading', entered: '', tries: 0, welcome: true, messages: [], cursor: 0 };
  const p = (name: string) => prompt(settings.voice, name);
  if (situation.locked) return say(state, 'goodbye', [p('mailbox_locked')]);
  if (situation.pinRequired) return say({ ...state, welcome: false }, 'pin', [p('welcome_voicebox'), p('enter_pin')]);
  return { state, actions: [{ kind: 'load-mailbox' }] };
}

export function onVoiceboxEvent(state: VoiceboxState, event: CallEvent, settings: VoiceboxSettings): Step<VoiceboxState> {
  if (state.phase === 'done') return { state, actions: [] };
  const p = (name: string) => prompt(settings.voice, name);
  const unchanged: Step<VoiceboxState> = { state, actions: [] };

  switch (event.kind) {
    case 'ended':
      return { state: { ...state, phase: 'done' }, actions: [] };
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
      const messages = event.messages;
      const welcome = state.welcome ? [p('welcome_voicebox')] : [];
      const next: VoiceboxState = { ...state, welcome: false, messages, cursor: 0 };
      if (messages.length === 0) return say(next, 'goodbye', [...welcome, p('no_messages'), p('goodbye')]);
      const counts = { new: messages.filter((m) => !m.read).length, saved: messages.filter((m) => m.read).length };
      return say(next, 'summary', [...welcome, ...summary(settings.voice, counts)]);
    }
    case 'summary':
      if (finishes(state, event)) return announce(state, 0, [], settings);
      if (event.kind === 'digit') {
        const command = commandFor(settings.keys, event.digit);
        if (command === 'skip' || command === 'next') return announce(state, 0, [], settings);
        if (command === 'exit') return say(state, 'goodbye', [p('goodbye')]);
      }
      return unchanged;
    case 'announce':
    case 'message':
    case 'menu':
      return messageMenu(state, event, settings);
    case 'end':
      if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
      if (event.kind !== 'digit') return unchanged;
      switch (commandFor(settings.keys, event.digit)) {
        case 'startOver':
          return startOver(state);
        case 'exit':
          return say(state, 'goodbye', [p('goodbye')]);
        case 'previous': {
          const previous = lastIndexBefore(state.messages, state.messages.length);
          if (previous !== undefined) return announce(state, previous, [], settings);
          break;
        }
        default:
          break;
      }
      return say(state, 'end', [p('invalid_key'), p('no_more_messages')]);
  }
}

function pinEntry(state: VoiceboxState, event: CallEvent, settings: VoiceboxSettings): Step<VoiceboxState> {
  if (finishes(state, event)) return wait(state, settings.inputTimeoutMs);
  if (event.kind !== 'digit') return { state, actions: [] };
  if (event.digit === '#') {
    return { state: { ...state, phase: 'checking-pin', entered: '', waiting: false, timerId: state.timerId + 1 }, actions: [{ kind: 'check-pin', entered: state.entered }] };
  }
  if (event.digit === '*') return say({ ...state, entered: '' }, 'pin', [prompt(settings.voice, 'enter_pin')]);
  if (!/^[0-9]$/.test(event.digit)) return { state, actions: [] };
  const entered = state.entered.length > PIN_MAX ? state.entered : state.entered + event.digit;
  // The first digit cuts the prompt short; every digit restarts the wait for the next.
  if (!state.waiting) return { state: { ...state, entered }, actions: [{ kind: 'stop-playback' }] };
  return wait({ ...state, entered }, settings.inputTimeoutMs);
}

function messageMenu(state: VoiceboxState, event: CallEvent, settings: VoiceboxSettings): Step<VoiceboxState> {
  const p = (name: string) => prompt(settings.voice, name);
  const current = state.messages[state.cursor];
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
      const marked = current.read ? [] : [{ kind: 'mark-read', id: current.id } as Action];
      const messages = withEntry(state.messages, state.cursor, { read: true });
      return advance({ ...state, messages }, [p('message_saved')], settings, marked);
    }
    case 'delete': {
      const messages = withEntry(state.messages, state.cursor, { deleted: true });
      return advance({ ...state, messages }, [p('message_deleted')], settings, [{ kind: 'delete-message', id: current.id }]);
    }
    case 'next':
      return advance(state, [], settings);
    case 'previous':
      return announce(state, lastIndexBefore(state.messages, state.cursor) ?? state.cursor, [], settings);
    case 'startOver':
      return startOver(state);
    case 'envelope':
      return say(state, 'menu', envelope(settings.voice, current, settings.timeZone));
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
function hear(state: VoiceboxState, settings: VoiceboxSettings): Step<VoiceboxState> {
  const current = state.messages[state.cursor]!;
  const step = say(state, 'message', [{ kind: 'message', mailbox: settings.mailbox, id: current.id }]);
  if (current.read) return step;
  return {
    state: { ...step.state, messages: withEntry(state.messages, state.cursor, { read: true }) },
    actions: [...step.actions, { kind: 'mark-read', id: current.id }],
  };
}

/** Announces message `index` ("first new message" …); the message follows when it ends. */
function announce(state: VoiceboxState, index: number, prefix: Playable[], settings: VoiceboxSettings, before: Action[] = []): Step<VoiceboxState> {
  const entry = state.messages[index]!;
  const first = !state.messages.slice(0, index).some((m) => m.wasNew === entry.wasNew);
  const label = `${first ? 'first' : 'next'}_${entry.wasNew ? 'new' : 'saved'}_message`;
  const items = [...prefix, prompt(settings.voice, label), ...(settings.envelope === 'always' ? envelope(settings.voice, entry, settings.timeZone) : [])];
  return say({ ...state, cursor: index }, 'announce', items, before);
}

/** On to the next message that is still there, or to "no more messages". */
function advance(state: VoiceboxState, prefix: Playable[], settings: VoiceboxSettings, before: Action[] = []): Step<VoiceboxState> {
  const next = state.messages.findIndex((m, i) => i > state.cursor && !m.deleted);
  if (next >= 0) return announce(state, next, prefix, settings, before);
  return say({ ...state, cursor: state.messages.length - 1 }, 'end', [...prefix, prompt(settings.voice, 'no_more_messages')], before);
}

/** From the top: the mailbox is read again (messages may have arrived) and summarised. */
function startOver(state: VoiceboxState): Step<VoiceboxState> {
  return { state: { ...state, phase: 'loading', waiting: false }, actions: [{ kind: 'stop-playback' }, { kind: 'load-mailbox' }] };
}

function lastIndexBefore(messages: MailboxEntry[], index: number): number | undefined {
  for (let i = Math.min(index, messages.length) - 1; i >= 0; i--) if (!messages[i]!.deleted) return i;
  return undefined;
}

function withEntry(messages: MailboxEntry[], index: number, change: Partial<MailboxEntry>): MailboxEntry[] {
  return messages.map((m, i) => (i === index ? { ...m, ...change } : m));
}
