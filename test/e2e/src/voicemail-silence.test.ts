/**
 * Sustained silence ends a message, end to end (docs/behaviour.md §2): sipp places the call through
 * a real drachtio-server, the project's RTP endpoint is the caller's phone (it speaks a tone, then
 * goes on sending silent packets as phones do, and never hangs up), and the real signaling, media
 * (rtpengine), voicemail and storage services do the rest. What a user cares about: the call ends
 * by itself with a closing prompt, and the stored message has the speech, not the silence.
 */
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DepositOutcomeSchema, readAudio, request, StorageApi, SUBJECTS, type DepositOutcome } from '@sipvm/contracts';
import { RtpEndpoint, startService, toneShare, wavSamples, type RunningServiceProcess } from '@sipvm/harness';
import { e2eSkipReason, sippReport, useSignalingRig } from './rig.js';

const skip = e2eSkipReason();
const TONE = 1000;
const SILENCE_MS = 2_000;

const appParam = (uid: string) => `mod=box;usr=${uid};snd='sip:bob@caller.example.org';dom=example.org;uid=${uid};did=example.org;`;

describe('voicemail: sustained silence ends the message', { skip }, () => {
  const rig = useSignalingRig({}, { storage: true });
  let voicemail: RunningServiceProcess;
  const outcomes: DepositOutcome[] = [];

  before(async () => {
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, VM_MAX_SILENCE_MS: String(SILENCE_MS), VM_MAX_MESSAGE_MS: '60000' });
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, { callback: (_e, msg) => void outcomes.push(DepositOutcomeSchema.parse(msg.json())) });
  });
  after(async () => {
    await voicemail?.stop();
  });

  /**
   * A caller who skips the greeting, waits for the beep, does `speak`, then sends silence until
   * the platform hangs up (sipp expects the platform's BYE). Returns when the caller fell silent
   * and when the call ended.
   */
  async function call(uid: string, speak: (phone: RtpEndpoint) => Promise<void>) {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const events = () => rig.events.slice(from);
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicemail', app_param: appParam(uid), rtp_port: String(phone.port) },
      timeoutSeconds: 60,
    });
    let ended = false;
    let silent: Promise<void> | undefined;
    try {
      await phone.latchRemote(15_000);
      await phone.sendDigits('#');
      await rig.waitFor(() => events().some((e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.playbackId === 'p2'), 'the beep', 20_000);
      await speak(phone);
      const fellSilent = Date.now();
      silent = (async () => {
        while (!ended) await phone.sendSilence(200);
      })();
      const callRef = String(events().find((e) => e.subject === 'vm.call.voicemail.started')?.event.callRef);
      const end = await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && e.event.callRef === callRef, 'the platform to end the call', 20_000);
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig));
      return { fellSilent, endedAt: Date.parse(String(end.event.at)), callRef };
    } finally {
      ended = true;
      await silent?.catch(() => undefined);
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  const outcomeOf = async (callRef: string) => {
    let found: DepositOutcome | undefined;
    await rig.waitFor(() => (found = outcomes.find((o) => o.depositId.includes(callRef))) !== undefined, 'the deposit outcome', 20_000);
    return found!;
  };
  /** The prompts media was asked to play in this call, in order. */
  const promptsPlayed = (callRef: string) =>
    rig.mediaRequests
      .filter((r) => r.subject.endsWith('.play') && r.request.callRef === callRef)
      .flatMap((r) => ((r.request as { items?: { kind: string; name?: string }[] }).items ?? []).map((i) => i.name ?? i.kind));
  const storedSamples = async (uid: string) => {
    const [message, ...more] = (await request(rig.nc, StorageApi.listMailbox, { mailbox: { did: 'example.org', uid } })).messages;
    assert.equal(more.length, 0);
    assert.ok(message, 'a message was stored');
    const parts: Uint8Array[] = [];
    for await (const chunk of readAudio(rig.nc, { kind: 'message', mailbox: { did: 'example.org', uid }, id: message.id })) parts.push(chunk);
    return { message, samples: wavSamples(Buffer.concat(parts)).samples };
  };

  it('after the caller speaks (with a short pause) and falls silent: closing prompt, hang-up, the speech stored without the silence', async () => {
    const result = await call('talker', async (phone) => {
      await phone.sendTone(TONE, 1_500);
      await phone.sendSilence(1_000); // shorter than the silence that ends a message: kept
      await phone.sendTone(TONE, 1_500);
    });
    const quietFor = result.endedAt - result.fellSilent;
    console.log(`silence ended the call ${quietFor} ms after the caller fell silent (${SILENCE_MS} ms of silence, then the closing prompt)`);
    assert.ok(quietFor >= SILENCE_MS, `the call ended ${quietFor} ms after the speech`);
    assert.deepEqual(promptsPlayed(result.callRef).slice(-1), ['message_recorded'], 'the closing prompt');
    assert.equal((await outcomeOf(result.callRef)).outcome, 'stored');
    const { message, samples } = await storedSamples('talker');
    console.log(`stored ${message.durationMs} ms for 4000 ms of speech and pause`);
    // 1.5 s tone + 1 s pause + 1.5 s tone and half a second after it; not the 2 s of silence.
    assert.ok(message.durationMs >= 3_800 && message.durationMs <= 4_900, `stored ${message.durationMs} ms`);
    assert.ok(toneShare(samples.subarray(0, 12_000), TONE) > 0.5, 'the first words are there');
    assert.ok(toneShare(samples.subarray(20_000, 32_000), TONE) > 0.8, 'the words after the pause are there');
  });

  it('a caller who says nothing at all: goodbye, hang-up, and the silent message is discarded', async () => {
    const result = await call('silent', async () => undefined);
    assert.ok(result.endedAt - result.fellSilent >= SILENCE_MS - 300, 'the silence lasted');
    assert.deepEqual(promptsPlayed(result.callRef).slice(-1), ['goodbye'], 'no "your message has been recorded"');
    assert.equal((await outcomeOf(result.callRef)).outcome, 'discarded-silent');
    assert.deepEqual((await request(rig.nc, StorageApi.listMailbox, { mailbox: { did: 'example.org', uid: 'silent' } })).messages, []);
  });

  it('a caller who keeps talking is not cut off (silence detection on, # ends the message)', async () => {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicemail', app_param: appParam('longtalk'), rtp_port: String(phone.port) },
      timeoutSeconds: 60,
    });
    try {
      await phone.latchRemote(15_000);
      await phone.sendDigits('#');
      await rig.waitFor(
        () => rig.events.slice(from).some((e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.playbackId === 'p2'),
        'the beep',
        20_000,
      );
      await phone.sendTone(TONE, 5_000);
      await phone.sendDigits('#');
      assert.equal((await sipp).exitCode, 0);
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
    const callRef = String(rig.events.slice(from).find((e) => e.subject === 'vm.call.voicemail.started')?.event.callRef);
    assert.equal((await outcomeOf(callRef)).outcome, 'stored');
    const { message } = await storedSamples('longtalk');
    assert.ok(message.durationMs >= 4_800, `stored ${message.durationMs} ms: all of it`);
    assert.ok(!rig.events.slice(from).some((e) => e.subject === 'vm.call.voicemail.recording-finished'), 'silence never ended it');
  });
});
