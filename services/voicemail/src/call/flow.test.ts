import { it } from 'node:test';
import assert from 'node:assert/strict';
import { onEvent, startCall, type Action, type Event, type FlowSettings, type VoicemailState } from './flow.js';

const settings: FlowSettings = {
  greeting: [{ kind: 'greeting', mailbox: { did: 'example.org', uid: 'alice' }, type: 'busy', version: '2026-11-20T08:00:00.000Z' }],
  language: 'en',
  maxMessageMs: 120_000,
  offerUrgent: false,
  urgentWaitMs: 4_000,
};

const describe = (a: Action): string => {
  if (a.kind !== 'play') return a.kind;
  const items = a.items.map((i) => (i.kind === 'prompt' ? i.name : i.kind)).join('+');
  return `play:${items}${a.thenRecord ? ' then record' : ''}`;
};

/** Runs a call through events, collecting every action. */
function run(
  mode: Parameters<typeof startCall>[0],
  events: (Event | ((s: VoicemailState) => Event))[],
  s: FlowSettings = settings,
  situation = { full: false },
) {
  let { record: state, actions } = startCall(mode, s, situation);
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
  // The greeting reported as stopped (the call closed) before the end arrives starts nothing.
  const stopped = (s: VoicemailState): Event => ({ kind: 'playback-finished', playbackId: s.playbackId, reason: 'stopped' });
  assert.deepEqual(run('box', [stopped, { kind: 'ended' }]).actions, ['play:greeting+beep then record', 'hand-over']);
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
  assert.deepEqual(run('ann', [finishedOnly], { ...settings, earlyMedia: { finalReply: { code: 480, reason: 'Temporarily Unavailable' } } }).actions, [
    'play:greeting',
    'final-reply',
  ]);
});

it('does nothing once the call is done', () => {
  const { state } = run('box', [{ kind: 'ended' }]);
  assert.deepEqual(onEvent(state, { kind: 'digit', digit: '#' }, settings).actions, []);
  assert.equal(onEvent(state, { kind: 'digit', digit: '#' }, settings).record, state, 'the record is not rewritten');
});

const silence = { silenceMs: 4_000, thresholdDbfs: -50 };
const withSilence: FlowSettings = { ...settings, endOnSilence: silence };

it('with silence detection on, every recording asks media to end it on silence', () => {
  const { record, actions } = startCall('box', withSilence);
  assert.deepEqual(actions, [
    { kind: 'play', playbackId: 'p1', items: [...withSilence.greeting, { kind: 'beep' }], thenRecord: { maxDurationMs: 120_000, endOnSilence: silence } },
  ]);
  const skipped = onEvent(record, { kind: 'digit', digit: '#' }, withSilence);
  assert.deepEqual(skipped.actions[0], {
    kind: 'play',
    playbackId: 'p2',
    items: [{ kind: 'beep' }],
    thenRecord: { maxDurationMs: 120_000, endOnSilence: silence },
  });
  const notStarted = onEvent(skipped.record, { kind: 'playback-finished', playbackId: 'p2' }, withSilence);
  assert.deepEqual(notStarted.actions, [{ kind: 'start-recording', maxMs: 120_000, endOnSilence: silence }]);
  // Off: nothing about silence goes to media.
  assert.deepEqual(
    startCall('box', settings).actions.map((a) => (a.kind === 'play' ? a.thenRecord : undefined)),
    [{ maxDurationMs: 120_000 }],
  );
});

it('sustained silence after speech: "message recorded", the message is handed over, then the call ends', () => {
  const { state, actions } = run('box', [finished, { kind: 'silence', speech: true }, finishedOnly], withSilence);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:message_recorded', 'hand-over', 'hangup']);
  assert.equal(state.phase, 'done');
  const hangup = run('box', [finished, { kind: 'silence', speech: true }, finishedOnly], withSilence);
  assert.equal(hangup.state.goodbyeReason, 'silence ended the message');
});

it('silence from the start: just goodbye (no "recorded"), and the hand-over lets the deposit check discard it', () => {
  assert.deepEqual(run('both', [finished, { kind: 'silence', speech: false }, finishedOnly], withSilence).actions, [
    'play:greeting+beep then record',
    'play:goodbye',
    'hand-over',
    'hangup',
  ]);
});

it('a caller who hangs up during the closing: the hand-over already decided is not repeated once confirmed', () => {
  const closing = run('box', [finished, { kind: 'silence', speech: true }], withSilence);
  assert.deepEqual(onEvent(closing.state, { kind: 'ended' }, withSilence).actions, [{ kind: 'hand-over' }], 'not yet confirmed: again');
  const confirmed = onEvent(closing.state, { kind: 'handed-over' }, withSilence).record;
  assert.deepEqual(onEvent(confirmed, { kind: 'ended' }, withSilence).actions, []);
});

const operator = { uri: 'sip:operator@example.org', method: 'refer' as const, recording: 'keep' as const };
const withOperator: FlowSettings = { ...settings, operator };

it('0 without an operator is no key', () => {
  assert.deepEqual(run('box', [{ kind: 'digit', digit: '0' }, finished, { kind: 'digit', digit: '0' }]).actions, ['play:greeting+beep then record']);
});

it('0 while recording: "connecting", the message so far is kept, then the transfer; transferred ends the flow', () => {
  const { state, actions } = run('box', [finished, { kind: 'digit', digit: '0' }, finishedOnly, { kind: 'transfer', outcome: 'transferred' }], withOperator);
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:connecting_operator', 'hand-over', 'transfer']);
  assert.equal(state.phase, 'done');
  const connecting = run('box', [finished, { kind: 'digit', digit: '0' }], withOperator).state;
  const step = onEvent(connecting, { kind: 'playback-finished', playbackId: connecting.playbackId }, withOperator);
  assert.deepEqual(step.actions, [{ kind: 'transfer', target: 'sip:operator@example.org', method: 'refer' }]);
  assert.equal(step.record.phase, 'transferring');
});

it('0 while recording with the message dropped: the recording is discarded, nothing is handed over, not even at the end', () => {
  const drop: FlowSettings = { ...settings, operator: { ...operator, recording: 'drop' } };
  const { state, actions } = run(
    'box',
    [finished, { kind: 'digit', digit: '0' }, finishedOnly, { kind: 'transfer', outcome: 'transferred' }, { kind: 'ended' }],
    drop,
  );
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:connecting_operator', 'stop-recording', 'transfer']);
  assert.equal(state.phase, 'done');
});

it('0 during the greeting: nothing recorded yet (a recording media may just have started is dropped), then the transfer', () => {
  const { actions } = run(
    'voicemail',
    [{ kind: 'digit', digit: '0' }, { kind: 'playback-finished', playbackId: 'p1', reason: 'stopped' }, finishedOnly],
    withOperator,
  );
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:connecting_operator', 'stop-recording', 'transfer']);
  // The caller hangs up while being transferred: nothing to hand over.
  const transferring = run('voicemail', [{ kind: 'digit', digit: '0' }, finishedOnly], withOperator).state;
  assert.deepEqual(onEvent(transferring, { kind: 'ended' }, withOperator).actions, []);
});

it('a transfer that fails: "cannot be reached", then the caller may leave a message after the tone', () => {
  const failed = run(
    'box',
    [finished, { kind: 'digit', digit: '0' }, finishedOnly, { kind: 'transfer', outcome: 'failed', status: 486 }, finished, { kind: 'digit', digit: '#' }],
    withOperator,
  );
  assert.deepEqual(failed.actions, [
    'play:greeting+beep then record',
    'play:connecting_operator',
    'hand-over',
    'transfer',
    'play:operator_unavailable+leave_message_after_tone+beep then record',
    'hangup',
    'hand-over',
  ]);
  // The command itself failing (signaling unreachable) is the same to the caller.
  const unreachable = run('box', [{ kind: 'digit', digit: '0' }, finishedOnly, { kind: 'failed', action: 'transfer' }], withOperator);
  assert.equal(unreachable.state.phase, 'beep');
});

it('ann: 0 transfers too (nothing is recorded); a failed transfer says so and goodbye; not in early media', () => {
  assert.deepEqual(run('ann', [{ kind: 'digit', digit: '0' }, finishedOnly, { kind: 'transfer', outcome: 'transferred' }], withOperator).actions, [
    'play:greeting',
    'play:connecting_operator',
    'transfer',
  ]);
  const failed = run('ann', [{ kind: 'digit', digit: '0' }, finishedOnly, { kind: 'transfer', outcome: 'failed' }, finishedOnly], withOperator);
  assert.deepEqual(failed.actions, ['play:greeting', 'play:connecting_operator', 'transfer', 'play:operator_unavailable+goodbye', 'hangup']);
  assert.deepEqual(
    run('ann', [{ kind: 'digit', digit: '0' }], { ...withOperator, earlyMedia: { finalReply: { code: 480, reason: 'Temporarily Unavailable' } } }).actions,
    ['play:greeting'],
  );
});

it('keys other than the operator key are ignored while connecting and transferring', () => {
  const { state, actions } = run(
    'box',
    [finished, { kind: 'digit', digit: '0' }, { kind: 'digit', digit: '#' }, { kind: 'digit', digit: '0' }, { kind: 'silence', speech: true }],
    withOperator,
  );
  assert.deepEqual(actions, ['play:greeting+beep then record', 'play:connecting_operator', 'hand-over']);
  assert.equal(state.phase, 'operator');
});

it('urgent offered: # stops the recording and asks; 1 marks the message urgent, says so, hands it over and hangs up', () => {
  const offering = { ...settings, offerUrgent: true };
  const { state, actions } = run('box', [finished, { kind: 'digit', digit: '#' }, finishedOnly, { kind: 'digit', digit: '1' }, finishedOnly], offering);
  assert.deepEqual(actions, [
    'play:greeting+beep then record',
    'stop-recording',
    'play:urgent_offer',
    'arm-timer',
    'play:message_marked_urgent',
    'hand-over',
    'hangup',
  ]);
  assert.equal(state.urgent, true);
});

it('urgent offered: no key in time (or another key, or a hang-up) hands the message over as it is', () => {
  const offering = { ...settings, offerUrgent: true };
  const timedOut = run('box', [finished, { kind: 'digit', digit: '#' }, finishedOnly, (s) => ({ kind: 'timeout', timerId: s.timerId })], offering);
  assert.deepEqual(timedOut.actions.slice(-2), ['hangup', 'hand-over']);
  assert.equal(timedOut.state.urgent, false);
  const stale = run('box', [finished, { kind: 'digit', digit: '#' }, finishedOnly, { kind: 'timeout', timerId: 0 }], offering);
  assert.deepEqual(stale.actions.slice(-1), ['arm-timer'], 'a stale timer changes nothing');
  const hungUp = run('box', [finished, { kind: 'digit', digit: '#' }, { kind: 'ended' }], offering);
  assert.deepEqual(hungUp.actions.slice(-1), ['hand-over'], 'the message is handed over when the caller hangs up while asked');
  const other = run('box', [finished, { kind: 'digit', digit: '#' }, { kind: 'digit', digit: '5' }], offering);
  assert.deepEqual(other.actions.slice(-2), ['hangup', 'hand-over']);
});

it('a full mailbox (mode box): "mailbox full" instead of the greeting and the beep, then a hang-up; nothing recorded', () => {
  const { state, actions } = run('box', [finishedOnly], settings, { full: true });
  assert.deepEqual(actions, ['play:mailbox_full', 'hangup']);
  assert.equal(state.handOverPending, false);
  assert.deepEqual(onEvent(state, { kind: 'ended' }, settings).actions, [], 'a hang-up hands nothing over');
});

it('the recorded name and the system phrase play as the greeting, then the beep', () => {
  const name = {
    ...settings,
    greeting: [
      { kind: 'greeting' as const, mailbox: { did: 'example.org', uid: 'alice' }, type: 'name' },
      { kind: 'prompt' as const, name: 'name_not_available', language: 'en' },
    ],
  };
  assert.deepEqual(run('box', [], name).actions, ['play:greeting+name_not_available+beep then record']);
});
