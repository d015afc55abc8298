/**
 * A long message from a caller whose phone (or an SBC or NAT on the way) ends calls that stop
 * receiving RTP: the platform sends RTP to the caller for the whole call — silence while the
 * caller speaks (media's player.ts) — so no such inactivity timer ever fires, and the 90 s message
 * is stored whole. (rtpengine's own `timeout` cannot stand in for that hop here: it ends a call
 * only when no stream of it receives anything, and the caller's packets keep this one alive.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DepositOutcomeSchema, readAudio, request, StorageApi, SUBJECTS, type DepositOutcome } from '@sipvm/contracts';
import { RtpEndpoint, startService, toneShare, wavSamples, type RunningServiceProcess } from '@sipvm/harness';
import { e2eSkipReason, sippReport, useSignalingRig, type CallEventSeen } from './rig.js';

const skip = e2eSkipReason();
/** An inactivity timer as phones and SBCs set it is 5 s or more; nothing near that may pass without RTP (here, a loaded CI machine's jitter may). */
const LONGEST_GAP_MS = 2_000;
const MESSAGE_MS = 90_000;

describe('voicemail: RTP to the caller for the whole call', { skip }, () => {
  const rig = useSignalingRig({}, { storage: true });
  let voicemail: RunningServiceProcess;
  const outcomes: DepositOutcome[] = [];

  before(async () => {
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, VM_MAX_MESSAGE_MS: '120000' });
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_e, msg) => {
        outcomes.push(DepositOutcomeSchema.parse(msg.json()));
      },
    });
  });
  after(async () => {
    await voicemail?.stop();
  });

  it('a caller who speaks for 90 s hears RTP throughout (silence after the beep) and leaves the whole message', { timeout: 240_000 }, async () => {
    const uid = 'longmessage';
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const params = `mod=box;usr=${uid};snd='sip:bob@caller.example.org';dom=example.org;`;
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicemail', app_param: params, rtp_port: String(phone.port) },
      timeoutSeconds: 200,
    });
    let speakingFrom = 0;
    let speakingUntil = 0;
    try {
      await phone.latchRemote(15_000);
      await phone.sendDigits('#'); // skip the greeting: straight to the beep
      await rig.waitFor(
        () =>
          rig.events
            .slice(from)
            .some((e: CallEventSeen) => e.subject === 'vm.call.voicemail.playback-finished' && typeof e.event.recordingStartedAt === 'string'),
        'the recording to start after the beep',
        30_000,
      );
      speakingFrom = Date.now();
      await phone.sendTone(1000, MESSAGE_MS);
      speakingUntil = Date.now();
      await phone.sendDigits('#');
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig));
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }

    // What reached the phone while its owner spoke: packets all along, silence in them.
    const heard = phone.received.filter((p) => p.at >= speakingFrom && p.at <= speakingUntil);
    const arrivals = [speakingFrom, ...heard.map((p) => p.at), speakingUntil];
    const longestGap = Math.max(...arrivals.slice(1).map((at, i) => at - arrivals[i]!));
    console.log(
      `while the caller spoke ${((speakingUntil - speakingFrom) / 1000).toFixed(1)} s: ${heard.length} RTP packets reached them, the longest gap ${longestGap} ms`,
    );
    assert.ok(longestGap <= LONGEST_GAP_MS, `${longestGap} ms without RTP: an inactivity timer would have ended the call`);
    assert.ok(
      heard.every((p) => p.payload.every((byte) => byte === 0xff || byte === 0x7f)),
      'what the caller heard while speaking was silence',
    );

    await rig.waitFor(() => outcomes.some((o) => o.mailbox?.uid === uid), 'the deposit outcome', 30_000);
    assert.equal(outcomes.find((o) => o.mailbox?.uid === uid)?.outcome, 'stored');
    const [message] = (await request(rig.nc, StorageApi.listMailbox, { mailbox: { did: 'example.org', uid } })).messages;
    assert.ok(message && Math.abs(message.durationMs - MESSAGE_MS) <= 1_500, `stored ${message?.durationMs} ms of ${MESSAGE_MS}`);
    const parts: Uint8Array[] = [];
    for await (const chunk of readAudio(rig.nc, { kind: 'message', mailbox: { did: 'example.org', uid }, id: message.id })) parts.push(chunk);
    assert.ok(toneShare(wavSamples(Buffer.concat(parts)).samples, 1000) > 0.5, 'the stored message is the caller’s tone');
  });
});
