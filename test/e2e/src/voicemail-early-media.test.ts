/**
 * An announcement as early media (SEMS's early_announce), with the real voicemail service: the
 * call-started event says whether the call was answered with early media (contracts' call.ts),
 * and voicemail ends it as the event says — with the final reply after a 183, with BYE after a
 * 200 even when the proxy named a final reply for a platform that does not do early media.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CallStartedEventSchema } from '@sipvm/contracts';
import { RtpEndpoint, startService, type RunningServiceProcess } from '@sipvm/harness';
import { e2eSkipReason, responsesIn, sippReport, useSignalingRig } from './rig.js';

const skip = e2eSkipReason();
const started = (rig: ReturnType<typeof useSignalingRig>, user: string) =>
  rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.started' && (e.event.params as { user?: string }).user === user, `the call of ${user}`);

describe('voicemail: an announcement as early media (ANN_EARLY_MEDIA=true)', { skip }, () => {
  const rig = useSignalingRig({ ANN_EARLY_MEDIA: 'true', ANN_EARLY_MEDIA_TIMEOUT_MS: '30000' }, { storage: true });
  let voicemail: RunningServiceProcess;
  before(async () => {
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url });
  });
  after(async () => {
    await voicemail?.stop();
  });

  it("183 with the announcement, then the proxy's final reply, sent by voicemail when the announcement is over", async () => {
    const t0 = Date.now();
    const result = await rig.sipp('invite-early-media-405.xml', { keys: { app_param: 'usr=erin;dom=example.org;mod=ann' } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    assert.ok(responsesIn(result.messages).includes('183 Session Progress'), sippReport(result));
    assert.ok(responsesIn(result.messages).includes('405 Prohibited'), sippReport(result));
    const event = CallStartedEventSchema.parse((await started(rig, 'erin')).event);
    assert.equal(event.earlyMedia, true);
    assert.deepEqual(event.finalReply, { code: 405, reason: 'Prohibited' });
    const played = rig.events.find((e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.callRef === event.callRef);
    assert.equal(played?.event.reason, 'completed', 'voicemail played the whole announcement');
    const ended = await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && e.event.callRef === event.callRef, 'the call to end');
    assert.equal(ended.event.reason, 'app-hangup', "ended by voicemail's final reply, not by the early-media timeout");
    assert.ok(Date.now() - t0 < 20_000);
  });
});

describe('voicemail: a final reply named for a platform without early media (ANN_EARLY_MEDIA=false)', { skip }, () => {
  const rig = useSignalingRig({ ANN_EARLY_MEDIA: 'false' }, { storage: true });
  let voicemail: RunningServiceProcess;
  before(async () => {
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url });
  });
  after(async () => {
    await voicemail?.stop();
  });

  it('is answered, hears the announcement, and is ended with BYE', async () => {
    const phone = await RtpEndpoint.create('PCMU');
    try {
      const result = await rig.sipp('ann-final-reply-answered.xml', {
        keys: { app_name: 'voicemail', app_param: 'usr=frank;dom=example.org;mod=ann', rtp_port: String(phone.port) },
        timeoutSeconds: 40,
      });
      assert.equal(result.exitCode, 0, sippReport(result, rig));
      assert.ok(!responsesIn(result.messages).includes('405 Prohibited'), 'no final reply to an answered call');
      const event = CallStartedEventSchema.parse((await started(rig, 'frank')).event);
      assert.equal(event.earlyMedia, false);
      assert.equal(event.finalReply, undefined);
      assert.ok((await phone.receivedPcm()).length > 8000, 'the caller heard the announcement');
    } finally {
      phone.close();
    }
  });
});
