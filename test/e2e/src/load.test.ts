/**
 * Under load (BENCHMARKS.md): many callers leave messages at once through drachtio-server and the real
 * services, and nothing is lost — counts, never timings (those are the deposit benchmark's). And
 * beyond capacity the platform refuses new calls with 503 and Retry-After instead of answering
 * calls it cannot record, while every call it did answer keeps its message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DepositOutcomeSchema, request, stageAudio, stagingBucket, StorageApi, SUBJECTS, type DepositOutcome, type Mailbox } from '@sipvm/contracts';
import { join } from 'node:path';
import { runSippLoad, speechWav, startService, tempDir, toneWav, type RunningServiceProcess, type TempDir } from '@sipvm/harness';
import { e2eSkipReason, useSignalingRig, type SignalingRig } from './rig.js';

const skip = e2eSkipReason();
const DOMAIN = 'example.org';

/** The voicemail service beside the rig, and every deposit outcome the rig's NATS carries. */
function useVoicemail(rig: SignalingRig): { outcomes: DepositOutcome[]; output(): string } {
  const seen = { outcomes: [] as DepositOutcome[], output: () => voicemail?.output().slice(-4000) ?? '' };
  let voicemail: RunningServiceProcess | undefined;
  before(async () => {
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, SMTP_PORT: '9' });
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_e, msg) => {
        seen.outcomes.push(DepositOutcomeSchema.parse(msg.json()));
      },
    });
  });
  after(async () => {
    await voicemail?.stop();
  });
  return seen;
}

/** A short personal greeting (a 1.5 s tone) for the mailbox: the callers' messages start soon. */
async function shortGreeting(rig: SignalingRig, mailbox: Mailbox): Promise<void> {
  const wav = toneWav(500, 1_500);
  const audio = await stageAudio(
    await stagingBucket(rig.nc),
    `load-greeting-${mailbox.uid}-${process.pid}`,
    (async function* () {
      yield wav;
    })(),
  );
  await request(rig.nc, StorageApi.putGreeting, { mailbox, type: 'vm', audio });
}

const messagesIn = async (rig: SignalingRig, mailbox: Mailbox) => {
  const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
  return counts.new + counts.saved;
};

describe('under load: 10 calls a second, 100 callers, every message stored', { skip }, () => {
  const rig = useSignalingRig({}, { storage: true, rtpPorts: 800 });
  const { outcomes, output: voicemailOutput } = useVoicemail(rig);
  let speech: string;
  let dir: TempDir | undefined;

  before(async () => {
    dir = await tempDir('load');
    speech = await speechWav(join(dir.path, 'speech.wav'), 10);
  });
  after(async () => dir?.remove());

  it('answers all 100, refuses and fails none, and stores exactly one message per call', async () => {
    const mailbox = { uid: 'load', did: DOMAIN };
    await shortGreeting(rig, mailbox);
    const result = await runSippLoad({ target: rig.target, rate: 10, calls: 100, holdMs: 6_000, speech, mailbox });
    assert.equal(result.created, 100, result.failures);
    assert.equal(result.answered, 100, result.failures);
    assert.equal(result.refused, 0);
    assert.equal(result.failed, 0, result.failures);
    // Every call's deposit has its outcome once the hand-overs are done: all stored, one each.
    await rig.waitFor(() => outcomes.length >= 100, `an outcome for every call (voicemail said: ${voicemailOutput()})`, 60_000);
    const kinds = outcomes.reduce<Record<string, number>>((all, o) => ({ ...all, [o.outcome]: (all[o.outcome] ?? 0) + 1 }), {});
    assert.deepEqual(kinds, { stored: 100 }, JSON.stringify(outcomes.filter((o) => o.outcome !== 'stored').slice(0, 5)));
    assert.equal(await messagesIn(rig, mailbox), 100);
  });
});

describe('beyond capacity: 503 with Retry-After, and every answered call keeps its message', { skip }, () => {
  const CAP = 4;
  const rig = useSignalingRig({ MAX_CALLS: String(CAP) }, { storage: true, rtpPorts: 200 });
  const { outcomes } = useVoicemail(rig);
  let speech: string;
  let dir: TempDir | undefined;

  before(async () => {
    dir = await tempDir('overload');
    speech = await speechWav(join(dir.path, 'speech.wav'), 10);
  });
  after(async () => dir?.remove());

  it(`holds at most ${CAP} calls: the rest are refused, not answered, and the ${CAP} leave their messages`, async () => {
    const mailbox = { uid: 'overload', did: DOMAIN };
    await shortGreeting(rig, mailbox);
    // 12 callers within half a second, each staying 5 s: far more than 4 at once.
    const result = await runSippLoad({ target: rig.target, rate: 24, calls: 12, holdMs: 5_000, speech, mailbox });
    assert.equal(result.created, 12);
    assert.equal(result.answered, CAP, result.failures);
    assert.equal(result.refused, 12 - CAP, result.failures);
    // A refusal without Retry-After would fail the call in the scenario.
    assert.equal(result.failed, 0, result.failures);
    await rig.waitFor(() => outcomes.length >= CAP, 'an outcome for every answered call', 30_000);
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      Array(CAP).fill('stored'),
    );
    assert.equal(await messagesIn(rig, mailbox), CAP);
    assert.match(rig.signaling.output(), /"status":503,"reason":"Service Unavailable \(at capacity\)"/);
  });
});
