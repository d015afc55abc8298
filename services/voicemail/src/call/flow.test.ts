import { it } from 'node:test';
import assert from 'node:assert/strict';
import { onEvent, startCall, type Action, type Event, type FlowSettings, type VoicemailState } from './flow.js';

const settings: FlowSettings = {
  greeting: { kind: 'greeting', mailbox: { did: 'example.org', uid: 'alice' }, type: 'busy', version: '2026-11-20T08:00:00.000Z' },
  language: 'en',
  earlyMedia: false,
  finalReply: { code: 480, reason: 'Temporarily Unavailable' },
  maxMessageMs: 120_000,
};

const describe = (a: Action): string => {
  if (a.kind !== 'play') return a.kind;
  const items = a.items.map((i) => (i.kind === 'prompt' ? i.name : i.kind)).join('+');
  return `play:${items}${a.thenRecord ? ' then record' : ''}`;
};

/** Runs a call through events, collecting every action. */
function run(mode: Parameters<typeof startCall>[0], events: (Event | ((s: VoicemailState) => Event))[], s: FlowSettings = settings) {
  let { record: state, actions } = startCall(mode, s);
  const all: Action[] = [...actions];
  for (const e of events) {
    const event = typeof e === 'function' ? e(state) : e;
    ({ record: state, actions } = onEvent(state, event, s));
    all.push(...actions);
  }
  return { state, actions: all.map(describe) };
}
/** The current playback ended; media started the recording it was asked for. */
const finished = (s: VoicemailState): Event => ({ kind: 'playback-finished', playbackId: s.playbackId, recordingStartedAt: '2026-11-28T10:00:00.000Z' });
/** The current playback ended without a recording (media could not start it, or none was asked for). */
const finishedOnly = (s: VoicemailState): Event => ({ kind: 'playback-finished', playbackId: s.playbackId });

it('greeting and beep are one playback after which media records; # hangs up and hands the message over', () => {
  const { state, actions } = run('box', [finished, { kind: 'digit', digit: '#' }]);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'hangup', 'hand-over']);
  assert.equal(state.phase, 'done');
  assert.equal(state.handOverPending, true, 'pending until confirmed');
});

it('a hand-over decided before the end stays pending until confirmed, and the end does it again if not', () => {
  const pending = run('box', [finished, { kind: 'digit', digit: '#' }]);
  assert.deepEqual(onEvent(pending.state, { kind: 'ended' }, settings).actions, [{ kind: 'hand-over' }]);
  const confirmed = onEvent(pending.state, { kind: 'handed-over' }, settings).record;
  assert.equal(confirmed.handOverPending, false);
  assert.deepEqual(onEvent(confirmed, { kind: 'ended' }, settings).actions, []);
});

it('# during the greeting skips to the beep (then record), and the stale greeting end is ignored', () => {
  const { state, actions } = run('voicemail', [{ kind: 'digit', digit: '#' }, { kind: 'playback-finished', playbackId: 'p1' }, finished]);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:beep then record']);
  assert.equal(state.phase, 'recording');
});

it('when media could not start the recording after the beep, the flow asks for it', () => {
  const { state, actions } = run('box', [finishedOnly]);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'start-recording']);
  assert.equal(state.phase, 'recording');
  assert.deepEqual(onEvent(state, { kind: 'failed', action: 'start-recording' }, settings).actions.map(describe), ['hangup']);
});

it('a caller who hangs up while recording leaves the message', () => {
  const { actions } = run('both', [finished, { kind: 'digit', digit: '5' }, { kind: 'ended' }]);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'hand-over']);
});

it('a caller who hangs up during the greeting: media is asked (it may have just started recording), nothing else', () => {
  assert.deepEqual(run('box', [{ kind: 'ended' }]).actions, ['play:greeting+beep then record', 'hand-over']);
});

it('the maximum length keeps the message whole, then beeps, says goodbye and hangs up', () => {
  const { actions } = run('box', [finished, { kind: 'recording-limit' }, { kind: 'digit', digit: '#' }, finishedOnly]);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:beep+max_length_reached', 'hand-over', 'hangup']);
});

it('a greeting that cannot be played: the beep at least, then the recording', () => {
  const { state, actions } = run('box', [{ kind: 'failed', action: 'play' }, finished]);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:beep then record']);
  assert.equal(state.phase, 'recording');
});

it('ann plays the greeting and hangs up, recording nothing; # does not skip it', () => {
  assert.deepEqual(run('ann', [{ kind: 'digit', digit: '#' }, finishedOnly, { kind: 'ended' }]).actions, ['play:greeting', 'hangup']);
  assert.deepEqual(run('ann', [finishedOnly], { ...settings, earlyMedia: true }).actions, ['play:greeting', 'final-reply']);
});

it('does nothing once the call is done', () => {
  const { state } = run('box', [{ kind: 'ended' }]);
  assert.deepEqual(onEvent(state, { kind: 'digit', digit: '#' }, settings).actions, []);
  assert.equal(onEvent(state, { kind: 'digit', digit: '#' }, settings).record, state, 'the record is not rewritten');
});
