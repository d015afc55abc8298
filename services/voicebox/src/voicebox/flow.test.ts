import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageInfo } from '@sipvm/contracts';
import { onVoiceboxEvent, playOrder, startVoicebox, type VoiceboxSettings, type VoiceboxState } from './flow.js';
import { DEFAULT_KEYS } from './keys.js';
import type { Action, CallEvent } from '../call/turn.js';
import { eventFor, type ScriptStep } from '../../test/steps.js';

const settings: VoiceboxSettings = {
  mailbox: { did: 'example.org', uid: 'alice' },
  voice: { language: 'en' },
  keys: DEFAULT_KEYS,
  inputTimeoutMs: 10_000,
  pinTries: 3,
  envelope: 'on-request',
  timeZone: 'UTC',
};

const message = (n: number, read: boolean): MessageInfo => ({
  id: `2026112${n}T100000000Z-00000000000${n}`,
  mailbox: settings.mailbox,
  sender: `sip:+49301234${n}@example.org`,
  recordedAt: `2026-11-2${n}T10:00:00.000Z`,
  durationMs: 3000,
  codec: 'PCMU',
  urgent: false,
  read,
  size: 48_044,
});

/** Runs a call through steps ('finish' = the current playback ends), describing every action. */
function run(steps: ScriptStep[], situation = { pinRequired: false, locked: false }, s: VoiceboxSettings = settings) {
  let { state, actions } = startVoicebox(situation, s);
  const all: Action[] = [...actions];
  for (const step of steps) {
    ({ state, actions } = onVoiceboxEvent(state, eventFor(step, state), s));
    all.push(...actions);
  }
  return { state, said: all.map(described) };
}

function described(a: Action): string {
  switch (a.kind) {
    case 'play':
      return `play:${a.items.map((i) => (i.kind === 'prompt' ? i.name : i.kind === 'number' ? String(i.value) : i.kind === 'message' ? `message-${i.id.slice(7, 8)}` : i.kind)).join('+')}`;
    case 'mark-read':
    case 'delete-message':
      return `${a.kind}:${a.id.slice(7, 8)}`;
    case 'check-pin':
      return `check-pin:${a.entered}`;
    default:
      return a.kind;
  }
}

const loaded = (...messages: MessageInfo[]): CallEvent => ({ kind: 'mailbox-loaded', messages: playOrder(messages, 'newest-first') });

describe('voicebox flow', () => {
  it('three new messages: summary, listen to the first, delete it, save the second, skip the third', () => {
    const { said, state } = run([
      loaded(message(1, false), message(2, false), message(3, false)),
      'finish', // summary
      'finish', // "first new message"
      'finish', // message 3 (newest)
      '3', // delete it
      'finish', // "message deleted, next new message"
      '2', // save message 2 while it plays
      '6', // skip message 1 while it is announced: it stays new
    ]);
    assert.deepEqual(said, [
      'load-mailbox',
      'play:welcome_voicebox+you_have+3+new_messages+and+no_count+saved_messages',
      'play:first_new_message',
      'play:message-3',
      'mark-read:3',
      'play:message_menu',
      'delete-message:3',
      'play:message_deleted+next_new_message',
      'play:message-2',
      'mark-read:2',
      'play:message_saved+next_new_message',
      'play:no_more_messages',
    ]);
    assert.deepEqual(state.messages.map((m) => [m.id.slice(7, 8), m.read, m.deleted]), [['3', true, true], ['2', true, false], ['1', false, false]]);
  });

  it('singular counts and the saved messages after the new ones', () => {
    const { said } = run([loaded(message(1, true), message(2, false)), 'finish', 'finish', '6', 'finish']);
    assert.deepEqual(said.slice(1, 6), [
      'play:welcome_voicebox+you_have+one_new_message+and+one_saved_message',
      'play:first_new_message',
      'play:message-2',
      'mark-read:2',
      'play:first_saved_message',
    ]);
    assert.equal(said[6], 'play:message-1', 'a saved message is not marked again');
  });

  it('an empty mailbox: no messages, goodbye, hang up', () => {
    const { said, state } = run([loaded(), 'finish']);
    assert.deepEqual(said, ['load-mailbox', 'play:welcome_voicebox+no_messages+goodbye', 'hangup']);
    assert.equal(state.phase, 'done');
  });

  it('PIN: digits then #; the first digit cuts the prompt short; wrong replays the prompt; the third wrong says goodbye', () => {
    const pin = { pinRequired: true, locked: false };
    const { said } = run(
      ['1', 'finish', '2', '#', { kind: 'pin-checked', outcome: 'wrong' }, '9', '#', { kind: 'pin-checked', outcome: 'wrong' }, '#', { kind: 'pin-checked', outcome: 'wrong' }, 'finish'],
      pin,
    );
    assert.deepEqual(said, [
      'play:welcome_voicebox+enter_pin',
      'stop-playback',
      'arm-timer',
      'arm-timer',
      'check-pin:12',
      'play:wrong_pin+enter_pin',
      'stop-playback',
      'check-pin:9',
      'play:wrong_pin+enter_pin',
      'check-pin:',
      'play:wrong_pin+goodbye',
      'hangup',
    ]);
  });

  it('the right PIN opens the mailbox; a locked mailbox is refused at once', () => {
    const opened = run(['4', '2', '#', { kind: 'pin-checked', outcome: 'right' }], { pinRequired: true, locked: false });
    assert.deepEqual(opened.said.slice(-2), ['check-pin:42', 'load-mailbox']);
    const locked = run(['finish'], { pinRequired: true, locked: true });
    assert.deepEqual(locked.said, ['play:mailbox_locked', 'hangup']);
  });

  it('every wait times out with goodbye: PIN entry, the menu, the end of the messages', () => {
    assert.deepEqual(run(['finish', 'timeout', 'finish'], { pinRequired: true, locked: false }).said.slice(-3), ['arm-timer', 'play:no_input_goodbye', 'hangup']);
    const menu = run([loaded(message(1, false)), 'finish', 'finish', 'finish', 'finish', 'timeout']).said;
    assert.deepEqual(menu.slice(-3), ['play:message_menu', 'arm-timer', 'play:no_input_goodbye']);
    const end = run([loaded(message(1, false)), 'finish', 'finish', 'finish', '6', 'finish', 'timeout']).said;
    assert.deepEqual(end.slice(-3), ['play:no_more_messages', 'arm-timer', 'play:no_input_goodbye']);
  });

  it('a stale timer (a key was pressed since) does nothing', () => {
    let { state } = run([loaded(message(1, false)), 'finish', 'finish', 'finish', 'finish']);
    const stale = state.timerId;
    ({ state } = { state: onVoiceboxEvent(state, { kind: 'digit', digit: '0' }, settings).state });
    assert.deepEqual(onVoiceboxEvent(state, { kind: 'timeout', timerId: stale }, settings).actions, []);
  });

  it('repeat, envelope, help, previous, skip, start over, invalid key and exit', () => {
    const { said } = run([loaded(message(1, false), message(2, true)), 'finish', 'finish', '#', '1', '5', '0', '6', '7', 'A', '4', loaded(message(1, true)), '*', 'finish']);
    assert.deepEqual(said.slice(3), [
      'play:message-1',
      'mark-read:1',
      'play:message_menu', // # skips to the end of the message
      'play:message-1', // 1 repeats
      'play:envelope_received+day_6+month_11+21+envelope_at+10+envelope_oclock+envelope_from+num_4+num_9+num_3+num_0+num_1+num_2+num_3+num_4+num_1',
      'play:help',
      'play:first_saved_message', // 6 next
      'play:first_new_message', // 7 previous
      'play:invalid_key+message_menu',
      'stop-playback', // 4 starts over: the mailbox is read again
      'load-mailbox',
      'play:you_have+no_count+new_messages+and+one_saved_message',
      'play:goodbye',
      'hangup',
    ]);
  });

  it('a failed action is told to the caller; a failure while saying goodbye just hangs up', () => {
    const { said } = run([loaded(message(1, false)), { kind: 'failed', action: 'mark-read' }, { kind: 'failed', action: 'play' }]);
    assert.deepEqual(said.slice(-2), ['play:technical_problem', 'hangup']);
  });

  it('orders new before saved, newest first by default and oldest first when configured', () => {
    const list = [message(1, false), message(3, true), message(2, false), message(4, true)];
    assert.deepEqual(playOrder(list, 'newest-first').map((m) => m.id.slice(7, 8)), ['2', '1', '4', '3']);
    assert.deepEqual(playOrder(list, 'oldest-first').map((m) => m.id.slice(7, 8)), ['1', '2', '3', '4']);
  });

  it('ignores digits while the PIN is checked and events after the call ended', () => {
    const checking: VoiceboxState = run(['1', '#'], { pinRequired: true, locked: false }).state;
    assert.deepEqual(onVoiceboxEvent(checking, { kind: 'digit', digit: '5' }, settings).actions, []);
    const ended = onVoiceboxEvent(checking, { kind: 'ended' }, settings).state;
    assert.deepEqual(onVoiceboxEvent(ended, { kind: 'pin-checked', outcome: 'right' }, settings).actions, []);
  });
});
