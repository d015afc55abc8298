/**
 * Per-call tracing (OpenTelemetry), end to end: with OTEL_EXPORTER_OTLP_ENDPOINT set, one voicemail
 * call through drachtio-server is one trace, from signaling's span of the call (INVITE to
 * hang-up) through media's session and recording and voicemail's taking of the call and its
 * hand-over, to storage's stored message — received by a real OTLP/HTTP collector (a test one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DepositOutcomeSchema, SUBJECTS, type DepositOutcome } from '@sipvm/contracts';
import { RtpEndpoint, startOtlpReceiver, startService, type OtlpReceiver, type RunningServiceProcess } from '@sipvm/harness';
import { e2eSkipReason, sippReport, startSignalingRig, type CallEventSeen, type SignalingRig } from './rig.js';

const skip = e2eSkipReason();

describe('tracing: one call, one trace across the services', { skip }, () => {
  let collector: OtlpReceiver;
  let rig: SignalingRig;
  let voicemail: RunningServiceProcess;
  const outcomes: DepositOutcome[] = [];

  before(async () => {
    collector = await startOtlpReceiver();
    const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url };
    rig = await startSignalingRig(tracing, { storage: true, mediaEnv: tracing, storageEnv: tracing });
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, ...tracing });
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_e, msg) => {
        outcomes.push(DepositOutcomeSchema.parse(msg.json()));
      },
    });
  });
  after(async () => {
    await voicemail?.stop();
    await rig?.stop();
    await collector?.close();
  });

  it('a message left is one trace: signaling, media, voicemail and storage, from the INVITE to the stored message', async () => {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const params = "mod=box;usr=traced;snd='sip:bob@caller.example.org';dom=example.org;";
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicemail', app_param: params, rtp_port: String(phone.port) },
      timeoutSeconds: 60,
    });
    try {
      await phone.latchRemote(15_000);
      await phone.sendDigits('#');
      await rig.waitFor(
        () =>
          rig.events
            .slice(from)
            .some((e: CallEventSeen) => e.subject === 'vm.call.voicemail.playback-finished' && typeof e.event.recordingStartedAt === 'string'),
        'the recording to start',
        20_000,
      );
      await phone.sendTone(1000, 2_000);
      await phone.sendDigits('#');
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig));
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
    await rig.waitFor(() => outcomes.some((o) => o.mailbox?.uid === 'traced' && o.outcome === 'stored'), 'the message to be stored', 20_000);

    const call = () => collector.spans.find((s) => s.service === 'sipvm-signaling' && s.name === 'call');
    await rig.waitFor(() => call() !== undefined, "signaling's span of the call", 15_000);
    const traceId = call()!.traceId;
    const inTrace = () => collector.spans.filter((s) => s.traceId === traceId);
    const has = (service: string, name: RegExp) => inTrace().some((s) => s.service === service && name.test(s.name));
    const expected: [service: string, name: RegExp, what: string][] = [
      ['sipvm-media', /session\.open$/, 'media opened the session in the trace'],
      ['sipvm-voicemail', /vm\.call\.voicemail\.started/, 'voicemail took the call in the trace'],
      ['sipvm-voicemail', /voicemail-call-ends job/, "voicemail's taking of the call's end in the trace"],
      ['sipvm-signaling', /signaling-mwi job/, 'the MWI that followed, in the trace'],
      ['sipvm-media', /record\.stop$/, 'media delivered the recording in the trace'],
      ['sipvm-storage', /vm\.storage\.message\.create/, 'storage stored the message in the trace'],
    ];
    // Spans are sent in batches, each service's when it likes, and after `#` the message is handed
    // over from the urgent key's timer, not from the call's end: wait for every one, in any order.
    await rig
      .waitFor(() => expected.every(([service, name]) => has(service, name)), "every service's spans in the call's trace", 15_000)
      .catch(() => undefined); // the assertions below name what is missing
    const seen = inTrace().map((s) => `${s.service}: ${s.name}`);
    console.log(`the call's trace (${seen.length} spans):\n  ${[...new Set(seen)].join('\n  ')}`);
    for (const [service, name, what] of expected) assert.ok(has(service, name), what);
    // One tree: every span but the call's own has its parent in the trace.
    const ids = new Set(inTrace().map((s) => s.spanId));
    const orphans = inTrace().filter((s) => s.parentSpanId !== undefined && !ids.has(s.parentSpanId));
    assert.deepEqual(
      orphans.map((s) => `${s.service}: ${s.name}`),
      [],
      'spans whose parent is not in the trace',
    );
  });
});
