/**
 * `0` to the operator, end to end (docs/behaviour.md §2): sipp is the caller's phone, which takes the
 * platform's REFER and calls the operator itself (test/sip/scenarios/voicemail-refer-caller.xml), and
 * another sipp is the operator (operator-uas.xml, or a busy one); the project's RTP endpoint sends
 * the caller's voice and keys. With `bridge` the platform calls the operator through the proxy
 * (here the operator's sipp stands at the proxy's address) and relays between the two: then the
 * operator's audio is an RTP endpoint too, and each side must hear the other. Real drachtio-server,
 * signaling, media (rtpengine), voicemail and storage. What a user cares about: the operator got the
 * call, the caller was told, and what was recorded before `0` was kept or dropped as configured.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { DepositOutcomeSchema, readAudio, request, StorageApi, SUBJECTS, type DepositOutcome } from '@sipvm/contracts';
import {
  dominantFrequency,
  freeTcpUdpPort,
  RtpEndpoint,
  runSipp,
  startService,
  tempDir,
  toneShare,
  wavSamples,
  type RunningServiceProcess,
  type SippResult,
} from '@sipvm/harness';
import { e2eSkipReason, SCENARIOS, sippReport, useSignalingRig, type CallEventSeen } from './rig.js';
import { voicemailQueues } from './voicemail-queues.js';

const skip = e2eSkipReason();
const SPEECH = 1000;
const LATER = 600;
const OPERATOR_VOICE = 500;
const CALLER_VOICE = 700;

describe('voicemail: 0 to the operator', { skip }, () => {
  /** The carrier's proxy that `bridge` calls go through: the operator's sipp listens there. */
  let proxyPort = 0;
  const rig = useSignalingRig(
    async () => {
      proxyPort = await freeTcpUdpPort();
      return { TRANSFER_TIMEOUT_MS: '10000', TRANSFER_PROXY: `sip:127.0.0.1:${proxyPort}` };
    },
    { storage: true },
  );
  let voicemail: RunningServiceProcess;
  let remove: () => Promise<void> = async () => undefined;
  /** The operator named by the domain's configuration (not by P-App-Param) listens here. */
  let deskPort: number;
  const outcomes: DepositOutcome[] = [];

  before(async () => {
    deskPort = await freeTcpUdpPort();
    const dir = await tempDir('operator');
    remove = () => dir.remove();
    const domains = join(dir.path, 'domains.json');
    // drop and bridge take no urgent key (the domain says so): `#` after a message ends the call at once.
    await writeFile(
      domains,
      JSON.stringify({
        'drop.example.org': { operatorRecording: 'drop', offerUrgent: false },
        'desk.example.org': { operator: `sip:desk@127.0.0.1:${deskPort}` },
        'bridge.example.org': { operator: 'sip:operator@operator.example.org', operatorTransfer: 'bridge', offerUrgent: false },
      }),
    );
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, VM_DOMAINS_FILE: domains, VM_MIN_MESSAGE_MS: '1000' });
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, { callback: (_e, msg) => void outcomes.push(DepositOutcomeSchema.parse(msg.json())) });
  });
  after(async () => {
    await voicemail?.stop();
    await remove();
  });

  const appParam = (uid: string, domain: string, operator?: number) =>
    `mod=box;usr=${uid};snd='sip:bob@caller.example.org';dom=${domain};uid=${uid};did=${domain};${operator ? `opr='sip:operator@127.0.0.1:${operator}';` : ''}`;

  /**
   * A caller on the REFER-taking phone. `caller` plays the caller's part once the platform's audio
   * arrives; the operator's sipp (`operator`) runs meanwhile. Both must end well.
   */
  async function call(options: {
    uid: string;
    domain: string;
    opr?: number;
    operator: Promise<SippResult>;
    caller: (phone: RtpEndpoint, events: () => CallEventSeen[]) => Promise<void>;
  }) {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const events = () => rig.events.slice(from);
    const sipp = rig.sipp('voicemail-refer-caller.xml', {
      service: options.uid,
      keys: { app_name: 'voicemail', app_param: appParam(options.uid, options.domain, options.opr), rtp_port: String(phone.port) },
      timeoutSeconds: 60,
    });
    try {
      await phone.latchRemote(15_000);
      await options.caller(phone, events);
      const [caller, operator] = await Promise.all([sipp, options.operator]);
      assert.equal(caller.exitCode, 0, `caller: ${sippReport(caller, rig)}`);
      assert.equal(operator.exitCode, 0, `operator: ${sippReport(operator)}`);
      const started = events().find((e) => e.subject === 'vm.call.voicemail.started');
      return { caller, operator, events: events(), callRef: String(started?.event.callRef) };
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  const operatorAt = (port: number, scenario = 'operator-uas.xml') =>
    runSipp({ scenario: join(SCENARIOS, scenario), port, keys: { rtp_port: '40000' }, timeoutSeconds: 60 });
  const playbackDone = (events: () => CallEventSeen[], id: string) =>
    rig.waitFor(() => events().some((e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.playbackId === id), `playback ${id}`, 30_000);
  /** # to skip the greeting, the beep, then speech, then 0. */
  const speakThenOperator = (ms: number) => async (phone: RtpEndpoint, events: () => CallEventSeen[]) => {
    await phone.sendDigits('#');
    await playbackDone(events, 'p2');
    await phone.sendTone(SPEECH, ms);
    await phone.sendDigits('0');
  };
  const promptsPlayed = (callRef: string) =>
    rig.mediaRequests
      .filter((r) => r.subject.endsWith('.play') && r.request.callRef === callRef)
      .flatMap((r) => ((r.request as { items?: { kind: string; name?: string }[] }).items ?? []).map((i) => i.name ?? i.kind));
  /** How the call ended (its ended event comes after the SIP side is done: wait for it). */
  const endOf = async (result: { callRef: string }) =>
    (await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && e.event.callRef === result.callRef, 'the end of the call')).event.reason;
  const outcomeOf = async (callRef: string) => {
    let found: DepositOutcome | undefined;
    await rig.waitFor(() => (found = outcomes.find((o) => o.depositId.includes(callRef))) !== undefined, 'the deposit outcome', 20_000);
    return found!;
  };
  const messages = async (uid: string, did: string) => (await request(rig.nc, StorageApi.listMailbox, { mailbox: { did, uid } })).messages;
  const samplesOf = async (uid: string, did: string, id: string) => {
    const parts: Uint8Array[] = [];
    for await (const chunk of readAudio(rig.nc, { kind: 'message', mailbox: { did, uid }, id })) parts.push(chunk);
    return wavSamples(Buffer.concat(parts)).samples;
  };

  it('REFER while recording: "connecting", the caller calls the operator, the platform leaves, the message so far is kept', async () => {
    const port = await freeTcpUdpPort();
    const result = await call({ uid: 'keeper', domain: 'example.org', opr: port, operator: operatorAt(port), caller: speakThenOperator(2_500) });
    // The operator got the call from the caller's phone, referred by the mailbox.
    assert.match(result.operator.messages, new RegExp(`^INVITE sip:operator@127\\.0\\.0\\.1:${port} SIP/2\\.0`, 'm'));
    assert.match(result.operator.messages, /^Referred-By: <sip:keeper@example\.org>/m);
    assert.match(result.caller.messages, new RegExp(`^Refer-To: <sip:operator@127\\.0\\.0\\.1:${port}>`, 'm'));
    assert.equal(await endOf(result), 'transferred');
    assert.deepEqual(promptsPlayed(result.callRef).slice(-1), ['connecting_operator']);
    assert.equal((await outcomeOf(result.callRef)).outcome, 'stored');
    const [message] = await messages('keeper', 'example.org');
    assert.ok(message && message.durationMs >= 2_000 && message.durationMs <= 3_500, `kept ${message?.durationMs} ms`);
    assert.ok(toneShare(await samplesOf('keeper', 'example.org', message.id), SPEECH) > 0.6, 'what the caller said before 0');
  });

  it('REFER with the domain set to drop: the operator gets the call, the message so far is not kept', async () => {
    const port = await freeTcpUdpPort();
    const queues = await voicemailQueues(rig.nc);
    const endsBefore = await queues.lastSeq('voicemailCallEnds');
    const result = await call({ uid: 'dropper', domain: 'drop.example.org', opr: port, operator: operatorAt(port), caller: speakThenOperator(2_500) });
    assert.match(result.operator.messages, /^INVITE sip:operator@/m);
    assert.equal(await endOf(result), 'transferred');
    const discard = rig.mediaRequests.find((r) => r.subject.endsWith('.record.stop') && r.request.callRef === result.callRef);
    assert.equal((discard?.request as { discard?: boolean } | undefined)?.discard, true, 'media was told to drop the recording');
    // The call is over and voicemail has handled its end; nothing was handed over for it.
    await queues.settled(endsBefore);
    assert.equal(
      outcomes.find((o) => o.depositId.includes(result.callRef)),
      undefined,
    );
    assert.deepEqual(await messages('dropper', 'drop.example.org'), []);
  });

  it("0 during the greeting, the operator from the domain's configuration: transferred, nothing recorded", async () => {
    const queues = await voicemailQueues(rig.nc);
    const endsBefore = await queues.lastSeq('voicemailCallEnds');
    const result = await call({
      uid: 'greeted',
      domain: 'desk.example.org',
      operator: operatorAt(deskPort),
      caller: async (phone) => phone.sendDigits('0'),
    });
    assert.match(result.operator.messages, new RegExp(`^INVITE sip:desk@127\\.0\\.0\\.1:${deskPort} SIP/2\\.0`, 'm'));
    assert.equal(await endOf(result), 'transferred');
    assert.ok(!result.events.some((e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.recordingStartedAt), 'no recording started');
    await queues.settled(endsBefore);
    assert.deepEqual(await messages('greeted', 'desk.example.org'), []);
  });

  it('the operator is busy: the caller is told, stays, and leaves a message after all (the part before 0 dropped)', async () => {
    const port = await freeTcpUdpPort();
    const result = await call({
      uid: 'unlucky',
      domain: 'drop.example.org',
      opr: port,
      operator: operatorAt(port, 'operator-busy-uas.xml'),
      caller: async (phone, events) => {
        await speakThenOperator(1_500)(phone, events);
        // "cannot be reached", "leave a message", beep: then the caller speaks again and presses #.
        await playbackDone(events, 'p4');
        await phone.sendTone(LATER, 2_000);
        await phone.sendDigits('#');
      },
    });
    assert.match(result.caller.messages, /^SIP\/2\.0 486 Busy Here/m);
    assert.equal(await endOf(result), 'app-hangup');
    assert.deepEqual(promptsPlayed(result.callRef).slice(-4), ['connecting_operator', 'operator_unavailable', 'leave_message_after_tone', 'beep']);
    assert.equal((await outcomeOf(result.callRef)).outcome, 'stored');
    const [message, ...more] = await messages('unlucky', 'drop.example.org');
    assert.equal(more.length, 0, 'one message: the one after the failed transfer');
    const samples = await samplesOf('unlucky', 'drop.example.org', message!.id);
    assert.ok(toneShare(samples, LATER) > 0.6 && toneShare(samples, SPEECH) < 0.05, 'the message is what the caller said after the failed transfer');
  });

  /** A caller on an ordinary phone (no REFER), hung up on by the platform: voicemail-platform-bye.xml. */
  async function bridgedCall(uid: string, operator: Promise<SippResult>, caller: (phone: RtpEndpoint, events: () => CallEventSeen[]) => Promise<void>) {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const events = () => rig.events.slice(from);
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      service: uid,
      keys: { app_name: 'voicemail', app_param: appParam(uid, 'bridge.example.org'), rtp_port: String(phone.port) },
      timeoutSeconds: 60,
    });
    try {
      await phone.latchRemote(15_000);
      await caller(phone, events);
      const [callerResult, operatorResult] = await Promise.all([sipp, operator]);
      assert.equal(callerResult.exitCode, 0, `caller: ${sippReport(callerResult, rig)}`);
      assert.equal(operatorResult.exitCode, 0, `operator: ${sippReport(operatorResult)}`);
      const callRef = String(events().find((e) => e.subject === 'vm.call.voicemail.started')?.event.callRef);
      return { caller: callerResult, operator: operatorResult, events: events(), callRef, phone };
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  it('bridge: the platform calls the operator through the proxy and connects the caller; both hear each other; the operator hangs up', async () => {
    const operatorPhone = await RtpEndpoint.create('PCMU');
    try {
      const operator = runSipp({
        scenario: join(SCENARIOS, 'operator-hangs-up-uas.xml'),
        port: proxyPort,
        keys: { rtp_port: String(operatorPhone.port) },
        args: ['-d', '4000'],
        timeoutSeconds: 60,
      });
      let heardByOperator: Int16Array = new Int16Array(0);
      let heardByCaller: Int16Array = new Int16Array(0);
      const result = await bridgedCall('bridged', operator, async (phone, events) => {
        await speakThenOperator(1_500)(phone, events);
        // The caller goes on talking; once connected, the operator hears it and answers.
        const talking = phone.sendTone(CALLER_VOICE, 5_000);
        await operatorPhone.latchRemote(20_000);
        const connected = Date.now();
        await operatorPhone.sendTone(OPERATOR_VOICE, 2_000);
        await talking;
        heardByOperator = await operatorPhone.receivedPcm();
        heardByCaller = await phone.receivedPcm({ sinceMs: connected });
      });
      // Through the proxy, to the operator's URI, from the caller.
      assert.match(result.operator.messages, /^INVITE sip:operator@operator\.example\.org SIP\/2\.0/m);
      assert.match(result.operator.messages, /^From: <sip:bob@caller\.example\.org>;tag=/m);
      console.log(`bridge: the operator heard ${dominantFrequency(heardByOperator)} Hz, the caller ${dominantFrequency(heardByCaller)} Hz once connected`);
      assert.ok(
        toneShare(heardByOperator, CALLER_VOICE) > 0.5,
        `the operator hears the caller (${CALLER_VOICE} Hz share ${toneShare(heardByOperator, CALLER_VOICE)})`,
      );
      assert.ok(
        toneShare(heardByCaller, OPERATOR_VOICE) > 0.5,
        `the caller hears the operator (${OPERATOR_VOICE} Hz share ${toneShare(heardByCaller, OPERATOR_VOICE)})`,
      );
      assert.equal(await endOf(result), 'transferred');
      assert.equal((await outcomeOf(result.callRef)).outcome, 'stored', 'the message before 0 is kept');
    } finally {
      operatorPhone.close();
    }
  });

  it('bridge to a busy operator: the caller stays with the platform, is told, and leaves a message that is recorded', async () => {
    const operator = runSipp({ scenario: join(SCENARIOS, 'operator-busy-uas.xml'), port: proxyPort, timeoutSeconds: 60 });
    const result = await bridgedCall('bridgebusy', operator, async (phone, events) => {
      await speakThenOperator(1_500)(phone, events);
      await playbackDone(events, 'p4');
      await phone.sendTone(LATER, 2_000);
      await phone.sendDigits('#');
    });
    assert.match(result.operator.messages, /^SIP\/2\.0 486 Busy Here/m);
    assert.equal(await endOf(result), 'app-hangup');
    assert.deepEqual(promptsPlayed(result.callRef).slice(-3), ['operator_unavailable', 'leave_message_after_tone', 'beep']);
    await rig.waitFor(async () => (await messages('bridgebusy', 'bridge.example.org')).length === 2, 'both messages stored', 20_000);
    const stored = await messages('bridgebusy', 'bridge.example.org');
    const later = await Promise.all(stored.map(async (m) => toneShare(await samplesOf('bridgebusy', 'bridge.example.org', m.id), LATER)));
    assert.ok(
      later.some((share) => share > 0.6),
      "the message after the failed bridge was recorded: the session is the caller's again",
    );
  });
});
