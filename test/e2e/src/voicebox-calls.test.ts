/**
 * Listening to messages and recording greetings, end to end (docs/behaviour.md §4, §5): sipp places the call
 * through a real drachtio-server, the project's RTP endpoint is the phone (it presses keys as
 * RFC 4733 events and hears what the platform plays), and the real signaling, media (rtpengine),
 * storage, voicebox and voicemail services do the rest. Each test checks what a user would: what
 * the mailbox holds afterwards, what was heard, which NOTIFYs went out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isServiceError, request, stageAudio, stagingBucket, StorageApi, type Mailbox } from '@sipvm/contracts';
import {
  dominantFrequency,
  freeTcpUdpPort,
  peakToneShare,
  rms,
  RtpEndpoint,
  runSipp,
  sleep,
  startService,
  toneWav,
  toneShare,
  udpPortBound,
  waitFor,
  type RunningServiceProcess,
} from '@sipvm/harness';
import { e2eSkipReason, SCENARIOS, sippReport, useSignalingRig, type MediaRequestSeen } from './rig.js';
import { callApplication, depositTone, type Caller } from './app-calls.js';

const skip = e2eSkipReason();
const DOMAIN = 'example.org';
/** Short enough for tests, long enough for a slow machine to answer a key in time. */
const INPUT_TIMEOUT = '8s';
const LOCK_MS = 8_000;

/** The seeds' P-App-Param style, with the trailing `;`. */
const appParam = (uid: string, extra = '') => `usr=${uid};dom=${DOMAIN};uid=${uid};did=${DOMAIN};${extra}`;

describe('voicebox and annrecorder end to end', { skip }, () => {
  let proxyPort = 0;
  const rig = useSignalingRig(
    async () => {
      proxyPort = await freeTcpUdpPort();
      return { MWI_PROXY: `sip:127.0.0.1:${proxyPort}` };
    },
    { storage: true },
  );
  const voiceboxEnv = () => ({
    NATS_URL: rig.nats.url,
    VOICEBOX_INPUT_TIMEOUT_MS: INPUT_TIMEOUT,
    VOICEBOX_LOCK_AFTER: '3',
    VOICEBOX_LOCK_MS: String(LOCK_MS),
  });
  let voicebox: RunningServiceProcess;
  let voicemail: RunningServiceProcess;

  before(async () => {
    voicebox = await startService('voicebox', voiceboxEnv());
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, SMTP_PORT: '9' });
  });
  after(async () => {
    await voicebox?.stop();
    await voicemail?.stop();
  });

  /** A message of a tone, deposited in the mailbox the way voicemail stores one. */
  const deposit = (mailbox: Mailbox, frequency: number, recordedAt: string) => depositTone(rig, mailbox, frequency, { recordedAt });

  /** Places a call to `app`; `caller` plays the caller's part. Returns what the phone heard. */
  const call = async (app: 'voicebox' | 'annrecorder' | 'voicemail', params: string, caller: Caller) =>
    (await callApplication(rig, app, params, caller, () => `\n--- voicebox ---\n${voicebox.output().slice(-4000)}`)).heard;

  /** The prompt names of the items of every play request of this test so far. */
  const playedPrompts = (from: number) =>
    rig.mediaRequests
      .slice(from)
      .filter((r) => r.subject.endsWith('.play'))
      .map((r) => ((r.request as { items?: { kind: string; name?: string }[] }).items ?? []).map((i) => i.name ?? i.kind).join('+'));

  it('three new messages: listen to the first, delete it, save the second, skip the third; storage and NOTIFYs agree', async () => {
    const mailbox = { did: DOMAIN, uid: 'listener' };
    // The proxy of unsolicited NOTIFYs: three deposits, then read, delete, read = six changes.
    const proxy = runSipp({ scenario: join(SCENARIOS, 'mwi-unsolicited-uas.xml'), port: proxyPort, calls: 6, timeoutSeconds: 90 });
    await waitFor(() => udpPortBound(proxyPort), 10_000, 'the proxy (sipp) to listen');
    const oldest = await deposit(mailbox, 450, '2026-11-20T08:00:00.000Z');
    const middle = await deposit(mailbox, 650, '2026-11-21T08:00:00.000Z');
    const newest = await deposit(mailbox, 850, '2026-11-22T08:00:00.000Z');
    const from = rig.mediaRequests.length;

    const heard = await call('voicebox', appParam('listener'), async (phone, played, playing) => {
      await played('p1'); // "You have three new messages and no saved messages."
      await played('p3'); // "First new message", then the newest message
      await playing('p4'); // the menu prompt
      await phone.sendDigits('3'); // delete it (during the menu prompt)
      await played('p5'); // "Message deleted. Next new message."
      await playing('p6'); // the second message
      await rig.waitFor(async () => peakToneShare(await phone.receivedPcm(), 650) > 0.8, 'the caller to hear the second message');
      await phone.sendDigits('2'); // save the second while it plays
      await playing('p7'); // "Next new message" (the third)
      await phone.sendDigits('6'); // skip the third while it is announced
      await played('p8'); // "There are no more messages…"
      await phone.sendDigits('*');
    });

    const prompts = playedPrompts(from);
    assert.equal(prompts[0], 'welcome_voicebox+you_have+number+new_messages+and+no_count+saved_messages');
    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
    assert.deepEqual(
      messages.map((m) => [m.id, m.read]).sort(),
      [
        [middle, true],
        [oldest, false],
      ].sort(),
      'the first is gone, the second saved, the third still new',
    );
    assert.ok(!messages.some((m) => m.id === newest));
    assert.deepEqual((await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts, { new: 1, saved: 1, urgentNew: 0, urgentSaved: 0 });
    assert.ok(peakToneShare(heard, 850) > 0.8, 'the first (newest) message was not heard');
    assert.ok(peakToneShare(heard, 650) > 0.8, 'the second message was not heard');
    assert.ok(peakToneShare(heard, 450) < 0.5, 'the skipped message was played');

    const notified = await proxy;
    assert.equal(notified.exitCode, 0, sippReport(notified, rig));
    const counts = [...notified.messages.matchAll(/^Voice-Message: (\d+\/\d+)/gm)].map((m) => m[1]);
    assert.deepEqual([...counts].sort(), ['1/0', '2/0', '3/0', '2/1', '2/0', '1/1'].sort(), `NOTIFYs: ${counts.join(', ')}`);
  });

  it('a wrong PIN three times ends the call; the lock-out then refuses the right PIN until it expires', async () => {
    const mailbox = { did: DOMAIN, uid: 'pinuser' };
    await deposit(mailbox, 450, '2026-11-20T08:00:00.000Z');
    const params = appParam('pinuser', 'pin=1234;');
    let from = rig.mediaRequests.length;
    await call('voicebox', params, async (phone, played) => {
      for (const id of ['p1', 'p2', 'p3']) {
        await played(id); // "enter your PIN", then "not correct, enter your PIN"
        await phone.sendDigits('1111#');
      }
    });
    const lockedAt = Date.now();
    assert.deepEqual(playedPrompts(from), ['welcome_voicebox+enter_pin', 'wrong_pin+enter_pin', 'wrong_pin+enter_pin', 'wrong_pin+goodbye']);

    from = rig.mediaRequests.length;
    await call('voicebox', params, async (phone) => {
      await phone.sendDigits('1234#');
    });
    assert.deepEqual(playedPrompts(from), ['mailbox_locked'], 'the locked mailbox took a PIN');
    assert.equal((await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts.new, 1);

    await sleep(Math.max(0, lockedAt + LOCK_MS + 500 - Date.now()));
    from = rig.mediaRequests.length;
    await call('voicebox', params, async (phone, played) => {
      await phone.sendDigits('1234#'); // during the prompt: the first digit cuts it short
      await played('p2'); // the summary
      await phone.sendDigits('*');
    });
    assert.deepEqual(playedPrompts(from).slice(0, 2), ['welcome_voicebox+enter_pin', 'you_have+one_new_message+and+no_count+saved_messages']);
  });

  it('a busy greeting recorded with annrecorder is what the next busy voicemail call plays; deleting it brings back the default', async () => {
    const mailbox = { did: DOMAIN, uid: 'greeter' };
    const GREETING = 600;
    let from = rig.mediaRequests.length;
    const heardBack = await call('annrecorder', appParam('greeter', 'typ=busy;'), async (phone, played, playing) => {
      await playing('p1'); // the welcome and the current greeting
      await phone.sendDigits('5'); // any key: record now
      await played('p2'); // the beep, at whose end media started recording
      await phone.sendTone(GREETING, 3_000);
      await phone.sendDigits('#'); // done
      await played('p3'); // "You recorded:", the greeting, "1 to keep …"
      await phone.sendDigits('1');
    });
    assert.equal(playedPrompts(from)[0], 'ann_welcome+ann_default_greeting+default_greeting+ann_press_any_key');
    assert.ok(peakToneShare(heardBack, GREETING) > 0.8, 'the caller did not hear the new greeting played back');
    const { greeting } = await request(rig.nc, StorageApi.getGreeting, { mailbox, type: 'busy' });
    assert.ok(greeting.size > 40_000, `greeting of ${greeting.size} bytes`);

    const busy = await call('voicemail', appParam('greeter', 'mod=ann;typ=busy;'), async () => undefined);
    assert.ok(Math.abs(dominantFrequency(busy) - GREETING) < 30, `the busy caller heard ${dominantFrequency(busy)} Hz, not the recorded greeting`);
    assert.ok(toneShare(busy, GREETING) > 0.5);

    from = rig.mediaRequests.length;
    await call('annrecorder', appParam('greeter', 'typ=busy;'), async (phone, played, playing) => {
      await playing('p1');
      await phone.sendDigits('5');
      await played('p2');
      await phone.sendTone(GREETING, 1_500);
      await phone.sendDigits('#');
      await rig.waitFor(() => playedPrompts(from).some((p) => p.startsWith('ann_you_recorded')), 'the recording to be played back');
      await phone.sendDigits('3'); // delete: back to the default
    });
    assert.equal(playedPrompts(from)[0], 'ann_welcome+ann_current_greeting+greeting+ann_press_any_key');
    await assert.rejects(request(rig.nc, StorageApi.getGreeting, { mailbox, type: 'busy' }), (e) => isServiceError(e, 'greeting-not-found'));
    const fallback = await call('voicemail', appParam('greeter', 'mod=ann;typ=busy;'), async () => undefined);
    assert.ok(rms(fallback) > 300, 'the default announcement was silent');
    assert.ok(toneShare(fallback, GREETING) < 0.2, 'the deleted greeting is still played');
  });

  it('a hang-up before confirming keeps the old greeting', async () => {
    const mailbox = { did: DOMAIN, uid: 'hesitant' };
    const wav = toneWav(700, 1_500);
    const audio = await stageAudio(
      await stagingBucket(rig.nc),
      `vb-e2e-greeting-${process.pid}`,
      (async function* () {
        yield wav;
      })(),
    );
    const before = (await request(rig.nc, StorageApi.putGreeting, { mailbox, type: 'vm', audio })).greeting;
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const requestsFrom = rig.mediaRequests.length;
    const asked = (what: (r: MediaRequestSeen) => boolean) => rig.mediaRequests.slice(requestsFrom).some(what);
    const result = rig.sipp('voicemail-caller-bye.xml', {
      keys: { app_name: 'annrecorder', app_param: appParam('hesitant'), rtp_port: String(phone.port) },
      args: ['-d', '9000'],
      timeoutSeconds: 60,
    });
    try {
      await phone.latchRemote(15_000);
      await rig.waitFor(() => asked((r) => r.subject.endsWith('.play') && r.request.playbackId === 'p1'), 'the welcome to be played');
      await phone.sendDigits('1');
      await rig.waitFor(
        () => rig.events.slice(from).some((e) => e.subject === 'vm.call.annrecorder.playback-finished' && e.event.playbackId === 'p2'),
        'the beep',
      );
      await phone.sendTone(450, 2_000); // then the caller hangs up (sipp -d) without a key
      assert.equal((await result).exitCode, 0);
    } finally {
      phone.close();
    }
    // The hang-up was taken: the recording was stopped and thrown away. Only then is "unchanged" a finding.
    await rig.waitFor(
      () => asked((r) => r.subject.endsWith('.record.stop') && (r.request as { discard?: boolean }).discard === true),
      'the recording to be thrown away',
    );
    assert.deepEqual((await request(rig.nc, StorageApi.getGreeting, { mailbox, type: 'vm' })).greeting, before);
  });

  it('the voicebox instance dies mid-menu: another takes the next key and the call goes on', async () => {
    const mailbox = { did: DOMAIN, uid: 'survivor' };
    const id = await deposit(mailbox, 450, '2026-11-20T08:00:00.000Z');
    let second: RunningServiceProcess | undefined;
    await call('voicebox', appParam('survivor'), async (phone, played) => {
      await played('p4'); // summary, announcement, message, menu: now waiting for a key
      second = await startService('voicebox', voiceboxEnv());
      await voicebox.kill(); // SIGKILL: nothing handed over, nothing said goodbye
      await phone.sendDigits('3'); // delete
      await played('p5'); // "Message deleted. There are no more messages…", said by the second
      await phone.sendDigits('*');
    });
    voicebox = second!;
    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
    assert.ok(!messages.some((m) => m.id === id), 'the message was not deleted after the instance died');
    assert.match(voicebox.output(), /message deleted/);
  });

  it('a caller who says nothing hears goodbye, from another instance when the one that armed the timer died', async (t) => {
    const mailbox = { did: DOMAIN, uid: 'silent' };
    await deposit(mailbox, 450, '2026-11-20T08:00:00.000Z');
    const from = rig.mediaRequests.length;
    let second: RunningServiceProcess | undefined;
    let waitingSince = 0;
    await call('voicebox', appParam('silent'), async (_phone, played) => {
      await played('p4'); // the menu prompt ended: the inactivity timer runs from now
      waitingSince = Date.now();
      second = await startService('voicebox', voiceboxEnv());
      await voicebox.kill();
      // No key: sipp waits for the platform's BYE.
    });
    const waited = Date.now() - waitingSince;
    voicebox = second!;
    assert.equal(playedPrompts(from).at(-1), 'no_input_goodbye');
    t.diagnostic(`the call ended ${waited} ms after the wait began (8 s timeout, then the goodbye prompt)`);
    assert.ok(waited >= 8_000, `goodbye after ${waited} ms, before the 8 s timeout`);
  });
});
