import { it } from 'node:test';
import assert from 'node:assert/strict';
import { onEvent, startCall, type Action, type CallEvent, type CallState, type FlowSettings } from './flow.js';

const settings: FlowSettings = { greeting: { kind: 'greeting', mailbox: { did: 'example.org', uid: 'alice' }, type: 'busy' }, language: 'en', earlyMedia: false };

/** Runs a call through events, collecting every action. */
function run(mode: Parameters<typeof startCall>[0], events: (CallEvent | ((s: CallState) => CallEvent))[], s: FlowSettings = settings) {
  let { state, actions } = startCall(mode, s);
  const all: Action[] = [...actions];
  for (const e of events) {
    const event = typeof e === 'function' ? e(state) : e;
    ({ state, actions } = onEvent(state, event, s));
    all.push(...actions);
  }
  return { state, actions: all.map((a) => (a.kind === 'play' ? `play:${a.items.map((i) => i.kind === 'prompt' ? i.name : i.kind).join('+')}` : a.kind)) };
}
const finished = (s: CallState): CallEvent => ({ kind: 'playback-finished', playbackId: s.playbackId });

it('greeting, beep, record, # ends: the message is handed over and the call hung up', () => {
  const { state, actions } = run('box', [finished, finished, { kind: 'digit', digit: '#' }]);
  assert.deepEqual(actions, ['play:greeting', 'play:beep', 'start-recording', 'finish-recording', 'hangup']);
  assert.equal(state.phase, 'done');
});

it('# during the greeting skips to the beep, and the stale greeting end is ignored', () => {
  const { actions } = run('voicemail', [{ kind: 'digit', digit: '#' }, { kind: 'playback-finished', playbackId: 'p1' }, finished]);
  assert.deepEqual(actions, ['play:greeting', 'play:beep', 'start-recording']);
});

it('a caller who hangs up while recording leaves the message', () => {
  const { actions } = run('both', [finished, finished, { kind: 'digit', digit: '5' }, { kind: 'ended' }]);
  assert.deepEqual(actions, ['play:greeting', 'play:beep', 'start-recording', 'finish-recording']);
});

it('a caller who hangs up before the beep leaves nothing', () => {
  assert.deepEqual(run('box', [{ kind: 'ended' }]).actions, ['play:greeting']);
  assert.deepEqual(run('box', [finished, { kind: 'ended' }]).actions, ['play:greeting', 'play:beep']);
});

it('the maximum length keeps the message whole, then beeps, says goodbye and hangs up', () => {
  const { actions } = run('box', [finished, finished, { kind: 'recording-limit' }, { kind: 'digit', digit: '#' }, finished]);
  assert.deepEqual(actions, ['play:greeting', 'play:beep', 'start-recording', 'finish-recording', 'play:beep+max_length_reached', 'hangup']);
});

it('ann plays the greeting and hangs up, recording nothing; # does not skip it', () => {
  assert.deepEqual(run('ann', [{ kind: 'digit', digit: '#' }, finished]).actions, ['play:greeting', 'hangup']);
  assert.deepEqual(run('ann', [finished], { ...settings, earlyMedia: true }).actions, ['play:greeting', 'final-reply']);
});

it('does nothing once the call is done', () => {
  const { state } = run('box', [{ kind: 'ended' }]);
  assert.deepEqual(onEvent(state, { kind: 'digit', digit: '#' }, settings).actions, []);
});
