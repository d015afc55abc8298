import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StagedAudio } from '@sipvm/contracts';
import type { CallAction, CallEvent } from '@sipvm/service';
import { onAnnrecorderEvent, startAnnrecorder, type AnnrecorderAction, type AnnrecorderSettings } from './flow.js';
import { eventFor, type ScriptStep } from '../../test/steps.js';

type Action = CallAction | AnnrecorderAction;
const settings: AnnrecorderSettings = {
  voice: { language: 'en' },
  greetingType: 'busy',
  inputTimeoutMs: 10_000,
  maxGreetingMs: 120_000,
  minGreetingMs: 1_000,
  maxTemporaryDays: 365,
};
const audio: StagedAudio = { name: 'greeting-1', size: 32_044 };
const recorded = (durationMs: number): CallEvent => ({
  kind: 'recorded',
  recording: { audio, durationMs, startedAt: '2026-11-28T10:00:00.000Z', codec: 'PCMU' },
});
const personal = { personal: true, greeting: { kind: 'greeting' as const, mailbox: { did: 'example.org', uid: 'alice' }, type: 'busy' } };

function run(steps: ScriptStep[], current: Parameters<typeof startAnnrecorder>[0] = personal, s: AnnrecorderSettings = settings) {
  let { state, actions } = startAnnrecorder(current, s);
  const all: Action[] = [...actions];
  for (const step of steps) {
    ({ state, actions } = onAnnrecorderEvent(state, eventFor(step, state), s));
    all.push(...actions);
  }
  return {
    state,
    actions: all,
    said: all.map((a) => (a.kind === 'play' ? `play:${a.items.map((i) => (i.kind === 'prompt' ? i.name : i.kind)).join('+')}` : a.kind)),
  };
}

describe('annrecorder flow', () => {
  it('hear the current greeting, record after the beep until a key, hear it back, 1 keeps it', () => {
    const { said, state } = run(['finish', '5', 'finish', '#', recorded(3_000), '1', 'finish']);
    assert.deepEqual(said, [
      'play:ann_welcome+ann_current_greeting+greeting+ann_press_any_key',
      'arm-timer',
      'play:beep',
      'start-recording',
      'stop-recording',
      'play:ann_you_recorded+staged+ann_confirm',
      'keep-greeting',
      'discard-staged',
      'play:ann_saved+goodbye',
      'hangup',
    ]);
    assert.equal(state.phase, 'done');
  });

  it('the beep ends in the recording: media starts it, the flow only follows', () => {
    const afterKey = onAnnrecorderEvent(startAnnrecorder(personal, settings).state, { kind: 'digit', digit: '5' }, settings);
    const beep = afterKey.actions.find((a) => a.kind === 'play');
    assert.deepEqual(beep?.kind === 'play' ? beep.thenRecord : undefined, { maxDurationMs: settings.maxGreetingMs });
    const ended = { kind: 'playback-finished' as const, playbackId: afterKey.state.playbackId, recordingStartedAt: '2026-11-28T10:00:00.000Z' };
    const recording = onAnnrecorderEvent(afterKey.state, ended, settings);
    assert.equal(recording.state.phase, 'recording');
    assert.deepEqual(recording.actions, [], 'nothing more to ask: media is recording');
    // A hang-up during the beep may find the recording just started: it is stopped and dropped.
    assert.deepEqual(onAnnrecorderEvent(afterKey.state, { kind: 'ended' }, settings).actions, [{ kind: 'stop-recording', discard: true }]);
  });

  it('without a personal greeting it plays the default callers hear', () => {
    const { said } = run([], { personal: false, greeting: { kind: 'prompt', name: 'default_greeting', language: 'en' } });
    assert.deepEqual(said, ['play:ann_welcome+ann_default_greeting+default_greeting+ann_press_any_key']);
  });

  it('2 records again, 3 deletes the greeting (back to the default)', () => {
    const again = run(['1', 'finish', '1', recorded(3_000), '2', 'finish', '1', recorded(2_000), '3', 'finish']).said;
    assert.deepEqual(again.slice(5), [
      'discard-staged',
      'play:beep',
      'start-recording',
      'stop-recording',
      'play:ann_you_recorded+staged+ann_confirm',
      'delete-greeting',
      'discard-staged',
      'play:ann_deleted+goodbye',
      'hangup',
    ]);
  });

  it('the maximum length ends the recording like a key does', () => {
    const { said } = run(['1', 'finish', { kind: 'recording-limit' }]);
    assert.equal(said.at(-1), 'stop-recording');
  });

  it('too short (or nothing recorded): not offered, the caller records again', () => {
    const { said } = run(['1', 'finish', '1', recorded(400), 'finish', '1', { kind: 'recorded', recording: null }]);
    assert.deepEqual(said.slice(4), ['discard-staged', 'play:ann_too_short+beep', 'start-recording', 'stop-recording', 'play:ann_too_short+beep']);
  });

  it('a timeout while deciding keeps nothing (fix: SEMS saves on timeout)', () => {
    const { said } = run(['1', 'finish', '1', recorded(3_000), 'finish', 'timeout', 'finish']);
    assert.deepEqual(said.slice(-5), ['play:ann_you_recorded+staged+ann_confirm', 'arm-timer', 'discard-staged', 'play:ann_not_saved+goodbye', 'hangup']);
    assert.ok(!said.includes('keep-greeting'));
  });

  it('hang-up while recording or deciding changes nothing and throws the recording away', () => {
    assert.deepEqual(run(['1', 'finish', { kind: 'ended' }]).said.slice(-1), ['stop-recording']);
    assert.deepEqual(
      onAnnrecorderEvent(run(['1', 'finish']).state, { kind: 'ended' }, settings).actions,
      [{ kind: 'stop-recording', discard: true }],
      'dropped, not staged',
    );
    const deciding = run(['1', 'finish', '1', recorded(3_000), { kind: 'ended' }]).said;
    assert.deepEqual(deciding.slice(-1), ['discard-staged']);
    assert.ok(!deciding.includes('keep-greeting') && !deciding.includes('delete-greeting'));
  });

  it('an invalid key while deciding repeats the choices; failing to keep tells the caller', () => {
    assert.deepEqual(run(['1', 'finish', '1', recorded(3_000), '9']).said.at(-1), 'play:invalid_key+ann_confirm');
    assert.deepEqual(run(['1', 'finish', '1', recorded(3_000), '1', { kind: 'failed', action: 'keep-greeting' }]).said.at(-1), 'play:technical_problem');
  });

  it('the temporary greeting: 1 asks for how many days, a wrong number is refused, then it is kept for those days', () => {
    const temporary = { ...settings, greetingType: 'temp', maxTemporaryDays: 30 };
    const none = { personal: false, greeting: { kind: 'prompt' as const, name: 'default_greeting', language: 'en' } };
    const { said, actions, state } = run(
      ['finish', '5', 'finish', '#', recorded(3_000), '1', '9', '9', '#', 'finish', '1', '4', '#', 'finish'],
      none,
      temporary,
    );
    assert.equal(said[0], 'play:ann_welcome_temporary+ann_no_temporary+ann_press_any_key', 'no default greeting is described: the temporary one has none');
    assert.deepEqual(said.slice(-11), [
      'play:ann_temporary_days',
      'stop-playback', // the first digit cuts the question short
      'stop-playback',
      'play:invalid_key+ann_temporary_days', // 99 days: more than the 30 allowed
      'arm-timer',
      'arm-timer',
      'arm-timer',
      'keep-greeting',
      'discard-staged',
      'play:ann_saved+goodbye',
      'hangup',
    ]);
    const kept = actions.find((a): a is Extract<Action, { kind: 'keep-greeting' }> => a.kind === 'keep-greeting');
    assert.equal(kept?.days, 14);
    assert.equal(state.phase, 'done');
  });

  it('the name: described as the name, kept like a greeting, no end asked', () => {
    const name = { ...settings, greetingType: 'name' };
    const { said, actions } = run(
      ['finish', '5', 'finish', '#', recorded(2_000), '1', 'finish'],
      { personal: false, greeting: { kind: 'prompt', name: 'default_greeting', language: 'en' } },
      name,
    );
    assert.equal(said[0], 'play:ann_welcome_name+ann_no_name+ann_press_any_key');
    const kept = actions.find((a): a is Extract<Action, { kind: 'keep-greeting' }> => a.kind === 'keep-greeting');
    assert.equal(kept?.days, undefined);
  });
});
