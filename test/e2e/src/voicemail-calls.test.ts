/**
 * Leaving a message, end to end (docs/behaviour.md §2): sipp places the call through a real drachtio-server
 * with the seeds' header style, the project's RTP endpoint is the caller's phone (it speaks a
 * 1 kHz tone and presses keys as RFC 4733 events), and the real signaling, media (rtpengine),
 * voicemail and storage services and an SMTP server do the rest. Each test checks what a user
 * would: what was stored, what was mailed, what the caller heard.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, DepositOutcomeSchema, readAudio, request, stageAudio, stagingBucket, StorageApi, SUBJECTS, type DepositOutcome } from '@sipvm/contracts';
import {
  dominantFrequency,
  rms,
  RtpEndpoint,
  sleep,
  startService,
  startSmtp,
  toneWav,
  toneShare,
  wavSamples,
  type RunningServiceProcess,
  type SmtpSink,
} from '@sipvm/harness';
import { e2eSkipReason, sippReport, useSignalingRig, type CallEventSeen } from './rig.js';
import { voicemailQueues, type VoicemailQueues } from './voicemail-queues.js';

const skip = e2eSkipReason();
const TONE = 1000;

/** The seeds' P-App-Param style (SEMS route fragment), with the trailing `;`. */
const appParam = (uid: string, mode: string, extra = '') =>
  `mod=${mode};eml='${uid}@mymail.org';usr=${uid};snd='sip:bob@caller.example.org';dom=example.org;uid=${uid};did=example.org;${extra}`;

describe('voicemail: leaving a message end to end', { skip }, () => {
  const rig = useSignalingRig({}, { storage: true });
  let smtp: SmtpSink;
  let voicemail: RunningServiceProcess;
  let queues: VoicemailQueues;
  const outcomes: DepositOutcome[] = [];
  const startVoicemail = () =>
    startService('voicemail', { NATS_URL: rig.nats.url, ...smtp.env, VM_MIN_MESSAGE_MS: '3000', VM_MAX_MESSAGE_MS: '6000', MAIL_RETRY_DELAYS: '500ms' });

  before(async () => {
    smtp = await startSmtp();
    voicemail = await startVoicemail();
    queues = await voicemailQueues(rig.nc);
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_e, msg) => {
        outcomes.push(DepositOutcomeSchema.parse(msg.json()));
      },
    });
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });
  after(async () => {
    await voicemail?.stop();
    await smtp?.close();
  });

  /** Places a call; `caller` plays the caller's part once the platform's audio has arrived. */
  async function call(
    params: string,
    caller: (phone: RtpEndpoint, events: () => CallEventSeen[]) => Promise<void>,
    scenario = 'voicemail-platform-bye.xml',
    args: string[] = [],
  ) {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const sipp = rig.sipp(scenario, { keys: { app_name: 'voicemail', app_param: params, rtp_port: String(phone.port) }, timeoutSeconds: 90, args });
    try {
      await phone.latchRemote(15_000);
      await caller(phone, () => rig.events.slice(from));
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig));
      return phone;
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  /** Waits until the beep (p2) has ended and media has started recording after it. */
  const recordingStarted = (events: () => CallEventSeen[]) =>
    rig.waitFor(
      () =>
        events().some(
          (e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.playbackId === 'p2' && typeof e.event.recordingStartedAt === 'string',
        ),
      'the beep to end and the recording to start',
      30_000,
    );

  /** Skips the greeting with #, waits for the recording after the beep, speaks the tone for `ms`. */
  const leaveMessage =
    (ms: number, end: 'hash' | 'none' = 'hash') =>
    async (phone: RtpEndpoint, events: () => CallEventSeen[]) => {
      await phone.sendDigits('#');
      await recordingStarted(events);
      await phone.sendTone(TONE, ms);
      if (end === 'hash') await phone.sendDigits('#');
    };

  /** The outcome of the message left for `uid` (each test has a mailbox of its own). */
  const outcomeFor = async (uid: string) => {
    await rig.waitFor(() => outcomes.some((o) => o.mailbox?.uid === uid), `the deposit outcome for ${uid}`, 20_000);
    return outcomes.find((o) => o.mailbox?.uid === uid)!;
  };
  const mailbox = async (uid: string) => (await request(rig.nc, StorageApi.listMailbox, { mailbox: { did: 'example.org', uid } })).messages;
  const storedAudio = async (uid: string, id: string) => {
    const parts: Uint8Array[] = [];
    for await (const chunk of readAudio(rig.nc, { kind: 'message', mailbox: { did: 'example.org', uid }, id })) parts.push(chunk);
    return wavSamples(Buffer.concat(parts)).samples;
  };

  it('box: stores one message whose audio is the tone the caller sent, and mails nothing', async () => {
    const mailsBefore = await queues.lastSeq('mail');
    const depositsBefore = await queues.lastSeq('deposits');
    await call(appParam('boxuser', 'box'), leaveMessage(4_000));
    assert.equal((await outcomeFor('boxuser')).outcome, 'stored');
    assert.equal(await queues.lastSeq('deposits'), depositsBefore, 'made a message at once, not through the deposit queue');
    const [message, ...more] = await mailbox('boxuser');
    assert.equal(more.length, 0);
    assert.equal(message?.sender, 'sip:bob@caller.example.org');
    assert.equal(message?.codec, 'PCMU');
    assert.ok(message!.durationMs >= 3_500 && message!.durationMs <= 5_500, `duration ${message?.durationMs}`);
    const samples = await storedAudio('boxuser', message!.id);
    assert.ok(toneShare(samples, TONE) > 0.5, `the stored audio is not the ${TONE} Hz tone (share ${toneShare(samples, TONE)})`);
    // The outcome is announced after the mail would have been queued: none was.
    assert.equal(await queues.lastSeq('mail'), mailsBefore, 'a mail was queued');
    assert.equal(smtp.messages.length, 0);
    // The call is over and its message stored: nothing of it stays in NATS, not even for a TTL.
    const jsm = await jetstreamManager(rig.nc);
    const entries = async () =>
      Object.fromEntries(
        await Promise.all([BUCKETS.mediaState, BUCKETS.voicemailCalls].map(async (b) => [b, (await jsm.streams.info(`KV_${b}`)).state.messages] as const)),
      );
    await rig.waitFor(async () => Object.values(await entries()).every((n) => n === 0), "the call's state to go", 5_000);
  });

  it('voicemail (SEMS mode 0): mails the message with the tone attached and stores nothing', async () => {
    await call(appParam('mailuser', '0'), leaveMessage(4_000));
    assert.equal((await outcomeFor('mailuser')).outcome, 'mailed');
    const [mail] = await smtp.waitForMessages(1);
    assert.equal((Array.isArray(mail?.to) ? mail?.to[0] : mail?.to)?.text, 'mailuser@mymail.org');
    const attachment = mail?.attachments[0];
    assert.equal(attachment?.contentType, 'audio/wav');
    assert.ok(toneShare(wavSamples(attachment!.content).samples, TONE) > 0.5, 'the attached audio is not the tone');
    assert.deepEqual(await mailbox('mailuser'), []);
  });

  it('both: stores and mails the same message', async () => {
    await call(appParam('bothuser', 'both'), leaveMessage(4_000));
    const outcome = await outcomeFor('bothuser');
    assert.equal(outcome.outcome, 'stored-and-mailed');
    const [mail] = await smtp.waitForMessages(1);
    const [message] = await mailbox('bothuser');
    assert.equal(mail?.headers.get('x-voicemail-message-id'), message?.id);
    assert.ok(toneShare(await storedAudio('bothuser', message!.id), TONE) > 0.5);
  });

  it('keeps the message when the caller hangs up instead of pressing #', async () => {
    await call(appParam('hangup', 'box'), leaveMessage(4_000, 'none'), 'voicemail-caller-bye.xml', ['-d', '6000']);
    assert.equal((await outcomeFor('hangup')).outcome, 'stored');
    const [message] = await mailbox('hangup');
    assert.ok(toneShare(await storedAudio('hangup', message!.id), TONE) > 0.5);
  });

  it('discards a 2-second message when the minimum is 3 seconds', async () => {
    const mailsBefore = await queues.lastSeq('mail');
    await call(appParam('shortmsg', 'both'), leaveMessage(2_000));
    assert.equal((await outcomeFor('shortmsg')).outcome, 'discarded-short');
    assert.deepEqual(await mailbox('shortmsg'), []);
    assert.equal(await queues.lastSeq('mail'), mailsBefore, 'a mail was queued');
    assert.equal(smtp.messages.length, 0);
  });

  it('keeps a message that reaches the maximum length whole, then says goodbye and hangs up', async () => {
    // 6 s maximum; the caller would speak for 9 s, but the platform ends the call.
    await call(appParam('longmsg', 'box'), async (phone, events) => {
      await phone.sendDigits('#');
      await recordingStarted(events);
      await phone.sendTone(TONE, 9_000);
    });
    assert.equal((await outcomeFor('longmsg')).outcome, 'stored');
    const [message] = await mailbox('longmsg');
    assert.ok(message!.durationMs >= 5_500 && message!.durationMs <= 6_500, `duration ${message?.durationMs}`);
    const samples = await storedAudio('longmsg', message!.id);
    assert.ok(toneShare(samples, TONE) > 0.5);
  });

  it('loses nothing and duplicates nothing when the voicemail service dies while the caller speaks', async () => {
    const [endsBefore, mailsBefore] = [await queues.lastSeq('voicemailCallEnds'), await queues.lastSeq('mail')];
    await call(
      appParam('crashuser', 'both'),
      async (phone, events) => {
        await phone.sendDigits('#');
        await recordingStarted(events);
        const speaking = phone.sendTone(TONE, 4_000);
        await sleep(1_000); // a second into the message
        await voicemail.kill(); // mid-message: nobody runs the call any more
        await speaking; // the caller finishes and hangs up (sipp -d)
      },
      'voicemail-caller-bye.xml',
      ['-d', '6000'],
    );
    voicemail = await startVoicemail();
    assert.equal((await outcomeFor('crashuser')).outcome, 'stored-and-mailed');
    await smtp.waitForMessages(1);
    // Nothing left that could still store or mail it again: every call end, deposit and mail acknowledged.
    await queues.settled(endsBefore);
    const messages = await mailbox('crashuser');
    assert.equal(messages.length, 1, 'stored once');
    assert.equal((await queues.lastSeq('mail')) - mailsBefore, 1, 'one mail queued');
    assert.equal(smtp.messages.length, 1, 'mailed once');
    assert.ok(toneShare(await storedAudio('crashuser', messages[0]!.id), TONE) > 0.5);
  });

  it('a message left while storage is away waits in the deposit queue and is stored once storage is back', async () => {
    const depositsBefore = await queues.lastSeq('deposits');
    await rig.stopStorage();
    try {
      await call(appParam('outageuser', 'box'), leaveMessage(4_000));
      // Made at once when storage is there; now it could not be: queued for the retries.
      await rig.waitFor(async () => (await queues.lastSeq('deposits')) > depositsBefore, 'the deposit to be queued', 20_000);
      assert.ok(!outcomes.some((o) => o.mailbox?.uid === 'outageuser'), 'an outcome while storage was away');
    } finally {
      await rig.startStorage();
    }
    assert.equal((await outcomeFor('outageuser')).outcome, 'stored');
    const [message, ...more] = await mailbox('outageuser');
    assert.equal(more.length, 0, 'stored once');
    assert.ok(toneShare(await storedAudio('outageuser', message!.id), TONE) > 0.5);
  });

  it('a call that arrives while the voicemail service is away rings until it is back: then greeting, beep, message stored', async () => {
    await voicemail.stop();
    const offers = () => rig.events.filter((e) => e.subject === 'vm.call.voicemail.started' && (e.event.params as { uid?: string }).uid === 'latecomer');
    // Back only after the call was offered and nobody took it: signaling offers it again.
    const back = (async () => {
      await rig.waitFor(() => offers().length >= 2, 'the call to be offered a second time', 20_000);
      voicemail = await startVoicemail();
    })();
    await call(appParam('latecomer', 'box'), leaveMessage(4_000));
    await back;
    assert.equal((await outcomeFor('latecomer')).outcome, 'stored');
    const [message, ...more] = await mailbox('latecomer');
    assert.equal(more.length, 0, 'stored once, however often the call was offered');
    assert.ok(toneShare(await storedAudio('latecomer', message!.id), TONE) > 0.5);
    assert.match(rig.signaling.output(), /"attempts":\d+,"msg":"the application took the call"/);
  });

  it('ann: plays the announcement and hangs up, recording nothing', async () => {
    const [endsBefore, depositsBefore] = [await queues.lastSeq('voicemailCallEnds'), await queues.lastSeq('deposits')];
    const phone = await call(appParam('annuser', 'ann'), async () => undefined);
    const heard = await phone.receivedPcm();
    assert.ok(heard.length > 8000, `the caller heard ${heard.length / 8000} s`);
    assert.ok(rms(heard) > 300, 'the announcement was silent');
    await queues.settled(endsBefore); // voicemail has handled the call's end
    assert.equal(await queues.lastSeq('deposits'), depositsBefore, 'something was handed over');
    assert.ok(!outcomes.some((o) => o.mailbox?.uid === 'annuser'), 'an outcome for an announcement');
    assert.deepEqual(await mailbox('annuser'), []);
  });

  it('plays the personal greeting of type busy when typ=busy', async () => {
    // The caller's own "busy" greeting: 2 seconds of 600 Hz, recorded earlier.
    const wav = toneWav(600, 2_000);
    const staging = await stagingBucket(rig.nc);
    const audio = await stageAudio(
      staging,
      `busy-greeting-${Date.now()}`,
      (async function* () {
        yield wav;
      })(),
    );
    await request(rig.nc, StorageApi.putGreeting, { mailbox: { did: 'example.org', uid: 'busyuser' }, type: 'busy', audio });
    const phone = await call(appParam('busyuser', 'ann', 'typ=busy;'), async () => undefined);
    const heard = await phone.receivedPcm();
    assert.ok(Math.abs(dominantFrequency(heard) - 600) < 30, `the caller heard ${dominantFrequency(heard)} Hz, not the 600 Hz greeting`);
    assert.ok(toneShare(heard, 600) > 0.5);
  });

  it('a greeting recorded after a caller heard the default is what the very next caller hears', async () => {
    // voicemail keeps what it looked up (call/greetings.ts); storage's announcement ends that at once.
    const first = await call(appParam('newgreeting', 'ann'), async () => undefined);
    const before = await first.receivedPcm();
    assert.ok(rms(before) > 300, 'the first caller heard the default greeting');
    assert.ok(toneShare(before, 750) < 0.2, 'the first caller heard no 750 Hz tone');
    const staging = await stagingBucket(rig.nc);
    const audio = await stageAudio(
      staging,
      `new-greeting-${Date.now()}`,
      (async function* () {
        yield toneWav(750, 2_000);
      })(),
    );
    await request(rig.nc, StorageApi.putGreeting, { mailbox: { did: 'example.org', uid: 'newgreeting' }, type: 'vm', audio });
    const next = await call(appParam('newgreeting', 'ann'), async () => undefined);
    const heard = await next.receivedPcm();
    assert.ok(Math.abs(dominantFrequency(heard) - 750) < 30, `the next caller heard ${dominantFrequency(heard)} Hz, not the new 750 Hz greeting`);
    await request(rig.nc, StorageApi.deleteGreeting, { mailbox: { did: 'example.org', uid: 'newgreeting' }, type: 'vm' });
    const after = await (await call(appParam('newgreeting', 'ann'), async () => undefined)).receivedPcm();
    assert.ok(toneShare(after, 750) < 0.2, 'after the greeting was deleted, the default again');
  });
});
