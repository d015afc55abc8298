import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageInfo } from '@sipvm/contracts';
import type { CallAction } from '@sipvm/service';
import { entryOf, onVoiceboxEvent, startVoicebox, type VoiceboxSettings, type VoiceboxState } from './flow.js';
import { DEFAULT_KEYS } from './keys.js';
import { PAGE_SIZE, type MailboxEntry, type VoiceboxAction, type VoiceboxEvent } from './events.js';
import { eventFor, type ScriptStep } from '../../test/steps.js';

type Action = CallAction | VoiceboxAction;

const settings: VoiceboxSettings = {
  mailbox: { did: 'example.org', uid: 'alice' },
  voice: { language: 'en' },
  keys: DEFAULT_KEYS,
  inputTimeoutMs: 10_000,
  pinTries: 3,
  envelope: 'on-request',
  timeZone: 'UTC',
  introductionMaxMs: 60_000,
};

/** Message n (1–9999): recorded on day n of the epoch of these tests, so a higher n is newer. */
const message = (n: number, read: boolean, urgent = false): MessageInfo => ({
  id: `${new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString().replace(/[-:.]/g, '')}-${n.toString(16).padStart(12, '0')}`,
  mailbox: settings.mailbox,
  sender: `sip:+49301234${n}@example.org`,
  recordedAt: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString(),
  durationMs: 3000,
  codec: 'PCMU',
  urgent,
  read,
  size: 48_044,
});
const n = (id: string): string => String(parseInt(id.slice(-12), 16));
const entries = (messages: MessageInfo[]) => messages.map((m) => entryOf(m, !m.read));

/** The mailbox as loaded: new messages newest first (urgent ones first), then saved ones. */
function loaded(...messages: MessageInfo[]): VoiceboxEvent {
  const byTime = [...messages].sort((a, b) => b.id.localeCompare(a.id));
  const fresh = [...byTime.filter((m) => !m.read && m.urgent), ...byTime.filter((m) => !m.read && !m.urgent)];
  const saved = byTime.filter((m) => m.read);
  const first = fresh.length > 0 ? fresh : saved;
  return {
    kind: 'mailbox-loaded',
    counts: { new: fresh.length, saved: saved.length },
    segment: fresh.length > 0 ? 'new' : 'saved',
    page: entries(first.slice(0, PAGE_SIZE)),
    more: first.length > PAGE_SIZE,
  };
}
const page = (segment: 'new' | 'saved', direction: 'after' | 'before', messages: MessageInfo[], more = false): VoiceboxEvent => ({
  kind: 'page-loaded',
  segment,
  direction,
  page: entries(messages),
  more,
});

/** Runs a call through steps ('finish' = the current playback ends), describing every action. */
function run(steps: ScriptStep<VoiceboxEvent>[], situation = { pinRequired: false, locked: false }, s: VoiceboxSettings = settings) {
  let { state, actions } = startVoicebox(situation, s);
  const all: Action[] = [...actions];
  for (const step of steps) {
    ({ state, actions } = onVoiceboxEvent(state, eventFor(step, state), s));
    all.push(...actions);
  }
  return { state, actions: all, said: all.map(described) };
}

function described(a: Action): string {
  switch (a.kind) {
    case 'play':
      return `play:${a.items.map((i) => (i.kind === 'prompt' ? i.name : i.kind === 'number' ? String(i.value) : i.kind === 'message' ? `message-${n(i.id)}` : i.kind)).join('+')}`;
    case 'mark-read':
    case 'delete-message':
      return `${a.kind}:${n(a.id)}`;
    case 'check-pin':
      return `check-pin:${a.entered}`;
    case 'load-page': {
      const start = 'after' in a.start ? `after-${n(a.start.after.id)}` : 'before' in a.start ? `before-${n(a.start.before.id)}` : a.start.from;
      return `load-page:${a.segment}:${start}`;
    }
    case 'forward-message':
      return `forward-message:${n(a.id)}->${a.to}${a.introduction ? '+introduction' : ''}`;
    default:
      return a.kind;
  }
}

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
      page('saved', 'after', []), // no saved messages
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
      'load-page:saved:start',
      'play:no_more_messages',
    ]);
    assert.deepEqual(
      state.page.map((m) => [n(m.id), m.read, m.deleted]),
      [
        ['3', true, true],
        ['2', true, false],
        ['1', false, false],
      ],
    );
  });

  it('singular counts and the saved messages after the new ones, from a page of their own', () => {
    const { said } = run([loaded(message(1, true), message(2, false)), 'finish', 'finish', '6', page('saved', 'after', [message(1, true)]), 'finish']);
    assert.deepEqual(said.slice(1, 7), [
      'play:welcome_voicebox+you_have+one_new_message+and+one_saved_message',
      'play:first_new_message',
      'play:message-2',
      'mark-read:2',
      'load-page:saved:start',
      'play:first_saved_message',
    ]);
    assert.equal(said[7], 'play:message-1', 'a saved message is not marked again');
  });

  it('an empty mailbox: no messages, goodbye, hang up', () => {
    const { said, state } = run([loaded(), 'finish']);
    assert.deepEqual(said, ['load-mailbox', 'play:welcome_voicebox+no_messages+goodbye', 'hangup']);
    assert.equal(state.phase, 'done');
  });

  it('urgent new messages first, and said so', () => {
    const { said } = run([loaded(message(1, false), message(2, false, true), message(3, false)), 'finish', 'finish', 'finish', '6']);
    assert.deepEqual(said.slice(2, 7), ['play:first_urgent_message', 'play:message-2', 'mark-read:2', 'play:message_menu', 'play:next_new_message']);
  });

  it('pages: the record holds one page; the next is asked for at its end, the previous at its start', () => {
    const all = Array.from({ length: 45 }, (_, i) => message(i + 1, false)); // newest: 45
    const second = all.slice(4, 24).reverse(); // 24 … 5
    const { said, state } = run([
      loaded(...all),
      'finish',
      ...Array.from({ length: PAGE_SIZE - 1 }, () => '6' as const), // to the 20th message (26)
      '6',
      page('new', 'after', second, true),
      '7', // back from the first of the second page: the page before
      page('new', 'before', all.slice(25).reverse(), false),
    ]);
    const forward = said.indexOf('load-page:new:after-26');
    assert.ok(forward > 0, said.join('\n'));
    assert.equal(said[forward + 1], 'play:next_new_message', 'the first of the second page is "next", not "first"');
    assert.deepEqual(said.slice(forward + 2), ['load-page:new:before-24', 'play:next_new_message']);
    assert.equal(n(state.page[state.cursor]!.id), '26', 'back on the last of the first page');
    assert.ok(state.page.length <= PAGE_SIZE);
  });

  it('going back from the first saved message reaches the last new one, from its listing', () => {
    const { said } = run([
      loaded(message(1, true), message(2, false)),
      'finish',
      'finish',
      '6',
      page('saved', 'after', [message(1, true)]),
      '7',
      page('new', 'before', [message(2, false)]),
    ]);
    assert.equal(said[said.length - 2], 'load-page:new:end');
    assert.equal(said[said.length - 1], 'play:first_new_message');
  });

  it('PIN: digits then #; the first digit cuts the prompt short; wrong replays the prompt; the third wrong says goodbye', () => {
    const pin = { pinRequired: true, locked: false };
    const { said } = run(
      [
        '1',
        'finish',
        '2',
        '#',
        { kind: 'pin-checked', outcome: 'wrong' },
        '9',
        '#',
        { kind: 'pin-checked', outcome: 'wrong' },
        '#',
        { kind: 'pin-checked', outcome: 'wrong' },
        'finish',
      ],
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
    assert.deepEqual(run(['finish', 'timeout', 'finish'], { pinRequired: true, locked: false }).said.slice(-3), [
      'arm-timer',
      'play:no_input_goodbye',
      'hangup',
    ]);
    const menu = run([loaded(message(1, false)), 'finish', 'finish', 'finish', 'finish', 'timeout']).said;
    assert.deepEqual(menu.slice(-3), ['play:message_menu', 'arm-timer', 'play:no_input_goodbye']);
    const end = run([loaded(message(1, false)), 'finish', 'finish', 'finish', '6', page('saved', 'after', []), 'finish', 'timeout']).said;
    assert.deepEqual(end.slice(-3), ['play:no_more_messages', 'arm-timer', 'play:no_input_goodbye']);
  });

  it('a stale timer (a key was pressed since) does nothing', () => {
    let { state } = run([loaded(message(1, false)), 'finish', 'finish', 'finish', 'finish']);
    const stale = state.timerId;
    ({ state } = { state: onVoiceboxEvent(state, { kind: 'digit', digit: '0' }, settings).state });
    assert.deepEqual(onVoiceboxEvent(state, { kind: 'timeout', timerId: stale }, settings).actions, []);
  });

  it('repeat, envelope, help, previous, skip, start over, invalid key and exit', () => {
    const { said } = run([
      loaded(message(1, false), message(2, true)),
      'finish',
      'finish',
      '#',
      '1',
      '5',
      '0',
      '6',
      page('saved', 'after', [message(2, true)]),
      '7',
      page('new', 'before', [message(1, false)]),
      'A',
      '4',
      loaded(message(1, true)),
      '*',
      'finish',
    ]);
    assert.deepEqual(said.slice(3), [
      'play:message-1',
      'mark-read:1',
      'play:message_menu', // # skips to the end of the message
      'play:message-1', // 1 repeats
      'play:envelope_received+day_7+month_11+1+envelope_at+0+1+envelope_from+num_4+num_9+num_3+num_0+num_1+num_2+num_3+num_4+num_1',
      'play:help',
      'load-page:saved:start', // 6 next: past the new messages
      'play:first_saved_message',
      'load-page:new:end', // 7 previous: back to the new messages
      'play:first_new_message',
      'play:invalid_key+message_menu',
      'stop-playback', // 4 starts over: the mailbox is read again
      'load-mailbox',
      'play:you_have+no_count+new_messages+and+one_saved_message',
      'play:goodbye',
      'hangup',
    ]);
  });

  it('forward: the number, then without an introduction; the caller hears it went and is back at the menu', () => {
    const { said } = run([loaded(message(1, false)), 'finish', 'finish', '8', '2', 'finish', '0', '4', '#', '2', { kind: 'forwarded', outcome: 'forwarded' }]);
    assert.deepEqual(said.slice(5), [
      'stop-playback',
      'play:forward_enter_number',
      'stop-playback', // the first digit cuts the prompt short
      'arm-timer',
      'arm-timer',
      'arm-timer',
      'play:forward_introduction_choice',
      'forward-message:1->204',
      'play:message_forwarded+message_menu',
    ]);
  });

  it('forward with an introduction: beep, recorded until a key, sent with it, then dropped from staging', () => {
    const audio = { name: 'intro-1', size: 16_044 };
    const { said, state } = run([
      loaded(message(1, false)),
      'finish',
      'finish',
      '8',
      '7',
      '#',
      '1',
      { kind: 'playback-finished', playbackId: 'p5', recordingStartedAt: '2026-12-01T00:00:01.000Z' },
      '#',
      { kind: 'recorded', recording: { audio, durationMs: 1_000, startedAt: '2026-12-01T00:00:01.000Z', codec: 'PCMU' } },
      { kind: 'forwarded', outcome: 'full' },
    ]);
    assert.deepEqual(said.slice(-5), [
      'play:beep',
      'stop-recording',
      'forward-message:1->7+introduction',
      'discard-staged',
      'play:forward_mailbox_full+message_menu',
    ]);
    assert.equal(state.forward, undefined);
  });

  it('forward cancelled with *; a number that cannot be a mailbox is said so', () => {
    assert.deepEqual(run([loaded(message(1, false)), 'finish', 'finish', '8', '*']).said.slice(-1), ['play:forward_cancelled+message_menu']);
    assert.deepEqual(run([loaded(message(1, false)), 'finish', 'finish', '8', '#']).said.slice(-1), ['play:forward_invalid_mailbox+message_menu']);
  });

  it('a failed action is told to the caller; a failure while saying goodbye just hangs up', () => {
    const { said } = run([loaded(message(1, false)), { kind: 'failed', action: 'mark-read' }, { kind: 'failed', action: 'play' }]);
    assert.deepEqual(said.slice(-2), ['play:technical_problem', 'hangup']);
  });

  it('ignores digits while the PIN is checked and events after the call ended', () => {
    const checking: VoiceboxState = run(['1', '#'], { pinRequired: true, locked: false }).state;
    assert.deepEqual(onVoiceboxEvent(checking, { kind: 'digit', digit: '5' }, settings).actions, []);
    const ended = onVoiceboxEvent(checking, { kind: 'ended' }, settings).state;
    assert.deepEqual(onVoiceboxEvent(ended, { kind: 'pin-checked', outcome: 'right' }, settings).actions, []);
  });

  it('the record stays a few kilobytes whatever the mailbox holds', () => {
    const many = Array.from({ length: 7_000 }, (_, i) => message(i + 1, i % 2 === 0));
    const { state } = run([loaded(...many), 'finish', 'finish']);
    const size = JSON.stringify(state).length;
    assert.ok(size < 8_000, `the state is ${size} bytes`);
    const entry: MailboxEntry | undefined = state.page[0];
    assert.ok(entry);
  });
});
