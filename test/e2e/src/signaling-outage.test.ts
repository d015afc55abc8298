/**
 * A signaling instance that loses NATS or drachtio-server keeps running, says so in /readyz,
 * refuses new calls with 503 (while NATS is away; without drachtio-server no call can reach it),
 * and takes calls again when they return — by itself, without a restart. "Taking calls again"
 * includes media: signaling is ready, and answers OPTIONS with 200, only while media answers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { encodeJson, ensureStreams, STREAMS, SUBJECTS, type MailboxChangedEvent } from '@sipvm/contracts';
import { e2eSkipReason, responsesIn, sippReport, useSignalingRig } from './rig.js';

const skip = e2eSkipReason();

describe('signaling through outages', { skip }, () => {
  const rig = useSignalingRig({}, { applications: 'fake' });

  const readyChecks = async () => (await rig.signaling.readyz()).body as { ok: boolean; checks: Record<string, boolean> };
  const alive = async () => (await fetch(`http://127.0.0.1:${rig.signaling.httpPort}/healthz`)).status === 200;
  const callWorks = async (user: string) => {
    const result = await rig.sipp('call-info-reinvite-bye.xml', { keys: { app_name: 'voicebox', app_param: `usr=${user};dom=example.org` } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    await rig.waitForEvent((e) => e.subject === 'vm.call.voicebox.started' && (e.event.params as { user?: string }).user === user, `${user}'s call`);
  };

  it('loses NATS: not ready, 503 to INVITE and OPTIONS; back to normal when NATS returns', async () => {
    await rig.nats.stop();
    await rig.waitFor(async () => (await readyChecks()).checks.nats === false, '/readyz to report NATS down');
    assert.equal((await rig.signaling.readyz()).status, 503);
    assert.equal(await alive(), true);

    const invite = await rig.sipp('invite-refused-with-sdp.xml', { keys: { app_name: 'voicebox', app_param: 'usr=dave;dom=example.org' } });
    assert.equal(invite.exitCode, 0, sippReport(invite, rig));
    assert.ok(responsesIn(invite.messages).includes('503 Service Unavailable (message bus unreachable)'), sippReport(invite));
    const options = await rig.sipp('options.xml');
    assert.notEqual(options.exitCode, 0, 'OPTIONS must not get 200 while calls are refused');
    assert.ok(
      responsesIn(options.messages).some((r) => r.startsWith('503')),
      sippReport(options),
    );

    await rig.nats.start();
    // Back to normal = signaling would take a call: NATS is back for it and for media, and media
    // answers (its readiness includes that), so OPTIONS says 200 again. The test's own
    // connection, which watches for the call's events, must be back too.
    await rig.waitFor(async () => (await rig.signaling.readyz()).status === 200, '/readyz to recover after NATS', 20_000);
    assert.deepEqual((await readyChecks()).checks, { accepting: true, started: true, nats: true, drachtio: true, media: true });
    await rig.waitFor(
      () =>
        !rig.nc.isClosed() &&
        rig.nc.flush().then(
          () => true,
          () => false,
        ),
      'the test to reconnect to NATS',
      20_000,
    );
    const optionsBack = await rig.sipp('options.xml');
    assert.equal(optionsBack.exitCode, 0, sippReport(optionsBack, rig));
    await callWorks('after-nats');

    // The MWI consumer works again too: a mailbox event is taken and acknowledged.
    const jsm = await jetstreamManager(rig.nc);
    await ensureStreams(jsm, ['mailbox']);
    const event: MailboxChangedEvent = {
      eventId: `after-nats-${process.pid}`,
      mailbox: { did: 'example.org', uid: 'after-nats' },
      change: 'message-read',
      messageId: '20261123T081847123Z-3fa9c0d2b4e1',
      counts: { new: 0, saved: 1, urgentNew: 0, urgentSaved: 0 },
      at: new Date().toISOString(),
    };
    const { seq } = await jetstream(rig.nc).publish(SUBJECTS.mailbox.changed, encodeJson(event), { msgID: event.eventId });
    await rig.waitFor(
      async () => {
        const info = await jsm.consumers.info(STREAMS.mailbox.name, 'signaling-mwi');
        return info.ack_floor.stream_seq >= seq;
      },
      'the MWI consumer to acknowledge the event',
      15_000,
    );
  });

  it('loses media (its rtpengine): not ready, 503 to INVITE and OPTIONS; back when rtpengine returns', async () => {
    const rtpengine = rig.rtpengine;
    assert.ok(rtpengine, 'the rig runs the real media service');
    await rtpengine.stop();
    await rig.waitFor(async () => (await readyChecks()).checks.media === false, '/readyz to report media unavailable');
    assert.equal(await alive(), true);
    // What a proxy's health check sees: 503 for as long as rtpengine is away.
    const options = await rig.sipp('options.xml');
    assert.ok(responsesIn(options.messages).includes('503 Service Unavailable (media unavailable)'), sippReport(options));
    const invite = await rig.sipp('invite-refused-with-sdp.xml', { keys: { app_name: 'voicebox', app_param: 'usr=erin;dom=example.org' } });
    assert.equal(invite.exitCode, 0, sippReport(invite, rig));
    assert.ok(responsesIn(invite.messages).includes('503 Service Unavailable (media unavailable)'), sippReport(invite));

    await rtpengine.start();
    await rig.waitFor(async () => (await rig.signaling.readyz()).status === 200, '/readyz to recover after rtpengine', 20_000);
    await callWorks('after-media');
  });

  it('loses drachtio-server: not ready, keeps running, reconnects when it returns', async () => {
    await rig.drachtio.stop();
    await rig.waitFor(async () => (await readyChecks()).checks.drachtio === false, '/readyz to report drachtio down');
    assert.equal(await alive(), true);
    // The log line travels through a pipe: it may arrive a moment after /readyz changed.
    await rig.waitFor(() => rig.signaling.output().includes('drachtio-server disconnected'), 'signaling to log the loss of drachtio-server');

    await rig.drachtio.start();
    await rig.waitFor(async () => (await rig.signaling.readyz()).status === 200, '/readyz to recover after drachtio', 20_000);
    await callWorks('after-drachtio');
  });
});
