/**
 * A voicebox session into a mailbox of 7,000 messages (BENCHMARKS.md, voicebox): the call's record holds a page
 * of the mailbox, not all of it, so the session works as it does into a mailbox of ten — where the
 * whole listing in the record passed NATS's 1 MB limit and the call failed. A real call through
 * drachtio-server, media with rtpengine, storage and voicebox.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { BUCKETS, request, StorageApi } from '@sipvm/contracts';
import { fillMailbox, RtpEndpoint, startService, type RunningServiceProcess } from '@sipvm/harness';
import { e2eSkipReason, sippReport, useSignalingRig, type CallEventSeen } from './rig.js';

const skip = e2eSkipReason();
const mailbox = { did: 'example.org', uid: 'hoarder' };

describe('voicebox into a mailbox of 7,000 messages', { skip }, () => {
  const rig = useSignalingRig({}, { storage: true });
  let voicebox: RunningServiceProcess;
  before(async () => {
    await fillMailbox(rig.storageDir!, mailbox, { count: 7_000, readEvery: 3 });
    voicebox = await startService('voicebox', { NATS_URL: rig.nats.url, VOICEBOX_INPUT_TIMEOUT_MS: '8s' });
  });
  after(async () => {
    await voicebox?.stop();
  });

  it('says the counts, plays the newest message, goes on and back across a page, and keeps its record small', async () => {
    const counts = (await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts;
    assert.equal(counts.new + counts.saved, 7_000);
    // The call's record, as voicebox writes it.
    let largest = 0;
    const watch = await (await new Kvm(rig.nc).open(BUCKETS.voiceboxCalls)).watch();
    void (async () => {
      for await (const entry of watch) largest = Math.max(largest, entry.value.length);
    })();
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const requestsFrom = rig.mediaRequests.length;
    const played = (id: string) =>
      rig.waitFor(
        () => rig.events.slice(from).some((e: CallEventSeen) => e.subject === 'vm.call.voicebox.playback-finished' && e.event.playbackId === id),
        `playback ${id} to finish`,
        60_000,
      );
    const playing = (id: string) =>
      rig.waitFor(
        () => rig.mediaRequests.slice(requestsFrom).some((r) => r.subject.endsWith('.play') && r.request.playbackId === id),
        `playback ${id} to be asked for`,
        60_000,
      );
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicebox', app_param: `usr=hoarder;dom=example.org;`, rtp_port: String(phone.port) },
      timeoutSeconds: 120,
    });
    try {
      await phone.latchRemote(15_000);
      await played('p1'); // the summary
      await playing('p3'); // the newest message
      for (let i = 0; i < 20; i++) await phone.sendDigits('6'); // past the first page
      await playing('p23');
      await phone.sendDigits('7'); // back across it
      await playing('p24');
      await phone.sendDigits('*');
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig) + `\n--- voicebox ---\n${voicebox.output().slice(-4000)}`);
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
      watch.stop();
    }
    const plays = rig.mediaRequests
      .slice(requestsFrom)
      .filter((r) => r.subject.endsWith('.play'))
      .map((r) => (r.request as { items?: { kind: string; name?: string; value?: number }[] }).items ?? []);
    assert.deepEqual(
      plays[0]!.map((i) => i.name ?? i.value),
      ['welcome_voicebox', 'you_have', counts.new, 'new_messages', 'and', counts.saved, 'saved_messages'],
    );
    assert.ok(!voicebox.output().includes('technical problem'), 'the session had no failure');
    assert.ok(largest > 0 && largest < 16_000, `the call record reached ${largest} bytes`);
  });
});
