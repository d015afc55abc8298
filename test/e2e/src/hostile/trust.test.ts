/**
 * Hostile SIP (SECURITY.md, "The SIP proxy, and nobody else"): nobody but the trusted proxy opens, changes or learns about a
 * mailbox, whatever selects the application; the PIN a proxy passes never shows on the bus, in KV
 * or in a log; a flood of refused requests does not flood the logs. A stranger is 127.0.0.2 here,
 * the proxy 127.0.0.1 (the default TRUSTED_PROXIES); drachtio-server logs at `notice` as in
 * production. Media is the FAKE responder (media-fake.ts): no call here needs audio; storage is real.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CallStartedEventSchema, SUBJECTS } from '@sipvm/contracts';
import { sdpOffer, sipRequest, SipUdpClient, startService, tempDir, type RunningServiceProcess, type SipReply, type TempDir } from '@sipvm/harness';
import { e2eSkipReason, useSignalingRig } from '../rig.js';

const skip = e2eSkipReason();
const PIN = '8041732519';

describe('a source that is not a trusted proxy', { skip }, () => {
  let dir: TempDir | undefined;
  const rig = useSignalingRig(
    async () => {
      dir = await tempDir('hostile-trust');
      const mapping = join(dir.path, 'apps.map');
      await writeFile(mapping, '^sip:8000@ => voicebox\n^sip:8001@ => annrecorder\n');
      return { APP_MAPPING_FILE: mapping };
    },
    { media: 'fake', storage: true, drachtioLogLevel: 'notice' },
  );
  let proxy: SipUdpClient;
  let stranger: SipUdpClient;
  let voicebox: RunningServiceProcess | undefined;
  const bus: string[] = [];

  before(async () => {
    proxy = await SipUdpClient.open('127.0.0.1');
    stranger = await SipUdpClient.open('127.0.0.2');
    proxy.target = stranger.target = rig.target;
    rig.nc.subscribe('>', {
      callback: (_error, msg) => {
        bus.push(`${msg.subject} ${msg.headers?.toString() ?? ''} ${msg.string()}`);
      },
    });
    voicebox = await startService('voicebox', { NATS_URL: rig.nats.url });
  });
  after(async () => {
    await proxy?.close();
    await stranger?.close();
    await voicebox?.stop();
    await dir?.remove();
  });

  const invite = (client: SipUdpClient, uri: string, headers: Record<string, string> = {}) =>
    client.exchange(sipRequest({ method: 'INVITE', uri, local: client.local, headers: { 'Content-Type': 'application/sdp', ...headers }, body: sdpOffer() }));
  const final = (replies: SipReply[]) => replies.find((r) => r.status >= 200);
  const started = () => rig.events.filter((e) => e.subject.endsWith('.started'));

  it('the proxy itself opens a voicebox from the R-URI (the control for what follows)', async () => {
    const replies = await invite(proxy, `sip:alice@${rig.target};app=voicebox`);
    const ok = final(replies);
    assert.equal(ok?.status, 200, ok?.text ?? 'no reply');
    await rig.waitForEvent((e) => e.subject === SUBJECTS.call.started('voicebox') && e.event.callId === ok?.callId, 'the voicebox call');
    proxy.hangUp(ok, `sip:alice@${rig.target}`);
  });

  for (const [what, uri] of [
    ['the R-URI parameter app=voicebox', 'sip:alice@example.org;app=voicebox'],
    ['the R-URI parameter app=annrecorder', 'sip:alice@example.org;app=annrecorder'],
    ['the R-URI user voicebox', 'sip:voicebox@example.org'],
    ['the R-URI user annrecorder', 'sip:annrecorder@example.org'],
    ['the mapping file (voicebox)', 'sip:8000@example.org'],
    ['the mapping file (annrecorder)', 'sip:8001@example.org'],
    ['the R-URI user voicemail (leaving a message, refused by default too)', 'sip:voicemail@example.org'],
  ] as const) {
    it(`gets 403 for a call selected by ${what}, and no call starts`, async () => {
      const before = started().length;
      const opened = rig.mediaFake?.opened.length;
      const reply = final(await invite(stranger, uri));
      assert.equal(reply?.status, 403, reply?.text ?? 'no reply');
      assert.match(reply?.reason ?? '', /^Forbidden \(/);
      assert.equal(started().length, before, 'no call started');
      assert.equal(rig.mediaFake?.opened.length, opened, 'media was not asked');
    });
  }

  it('gets 403 for P-App headers too, and a proxy header does not help', async () => {
    const reply = final(await invite(stranger, 'sip:alice@example.org', { 'P-App-Name': 'voicebox', 'P-App-Param': 'usr=alice;dom=example.org' }));
    assert.equal(reply?.status, 403, reply?.text ?? 'no reply');
  });

  const subscribe = (client: SipUdpClient, user: string) =>
    client.exchange(
      sipRequest({
        method: 'SUBSCRIBE',
        uri: `sip:${user}@example.org`,
        local: client.local,
        headers: { Event: 'message-summary', Expires: '60', Accept: 'application/simple-message-summary' },
      }),
    );

  it('learns nothing about a mailbox: SUBSCRIBE gets 403 and no NOTIFY, where the proxy gets 200 and a NOTIFY', async () => {
    const asked = Date.now();
    assert.equal(final(await subscribe(proxy, 'alice'))?.status, 200);
    await rig.waitFor(() => proxy.requests.some((r) => r.startsWith('NOTIFY ')), 'the NOTIFY to the proxy');
    const notifyMs = Date.now() - asked;

    const reply = final(await subscribe(stranger, 'alice'));
    assert.equal(reply?.status, 403, reply?.text ?? 'no reply');
    // Three times as long as the proxy's NOTIFY took: none comes.
    await new Promise((resolve) => setTimeout(resolve, Math.max(500, 3 * notifyMs)));
    assert.deepEqual(
      stranger.requests.filter((r) => r.startsWith('NOTIFY ')),
      [],
    );
  });

  it('never sees a PIN: not on the bus, not in the voicebox call record, not in any log', async () => {
    const replies = await invite(proxy, `sip:pinuser@${rig.target}`, { 'P-App-Name': 'voicebox', 'P-App-Param': `usr=pinuser;dom=example.org;pin=${PIN};` });
    const ok = final(replies);
    assert.equal(ok?.status, 200, ok?.text ?? 'no reply');
    // Acknowledged at once, as a phone does: the BYE below then finds a confirmed dialog, not one
    // whose 200 drachtio-server is still retransmitting.
    proxy.ack(ok, `sip:pinuser@${rig.target}`);
    const event = CallStartedEventSchema.parse(
      (await rig.waitForEvent((e) => e.subject === SUBJECTS.call.started('voicebox') && e.event.callId === ok?.callId, 'the call')).event,
    );
    assert.match(event.params.pin?.kdf ?? '', /^scrypt:/, 'the event carries the verifier');
    // The voicebox wrote the call's record (with the verifier) to KV: that write passed the bus too.
    await rig.waitFor(() => bus.some((m) => m.startsWith(`$KV.vm-voicebox-calls.${event.callRef}`) && m.includes('"kdf"')), 'the call record in KV');
    proxy.hangUp(ok, `sip:pinuser@${rig.target}`);
    await rig.waitForEvent((e) => e.subject === SUBJECTS.call.ended('voicebox') && e.event.callRef === event.callRef, 'the end of the call');

    assert.deepEqual(
      bus.filter((m) => m.includes(PIN)),
      [],
      'the PIN on the bus',
    );
    for (const [name, output] of [
      ['signaling', rig.signaling.output()],
      ['drachtio-server', rig.drachtio.output()],
      ['voicebox', voicebox?.output() ?? ''],
    ] as const) {
      assert.ok(output.length > 0, `${name} logged something`);
      assert.ok(!output.includes(PIN), `the PIN in the ${name} log`);
      assert.ok(!/P-App-Param/i.test(output), `a P-App-Param header in the ${name} log`);
    }
  });

  it('does not flood the logs: 200 refused INVITEs are counted, and logged in a line or two', async () => {
    const metric = async () => {
      const text = await (await fetch(`http://127.0.0.1:${rig.signaling.httpPort}/metrics`)).text();
      return Number(/^sipvm_sip_untrusted_refused_total\{[^}]*method="INVITE"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const counted = await metric();
    const lines = { signaling: rig.signaling.output().split('\n').length, drachtio: rig.drachtio.output().split('\n').length };
    for (let i = 0; i < 200; i++) assert.equal(final(await invite(stranger, `sip:user${i}@example.org;app=voicebox`))?.status, 403);
    assert.equal((await metric()) - counted, 200, 'every refusal counted');
    const more = {
      signaling: rig.signaling.output().split('\n').length - lines.signaling,
      drachtio: rig.drachtio.output().split('\n').length - lines.drachtio,
    };
    assert.ok(more.signaling <= 2, `signaling wrote ${more.signaling} lines`);
    assert.ok(more.drachtio <= 2, `drachtio-server wrote ${more.drachtio} lines`);
  });

  it('refuses an INVITE whose Contact is not one SIP URI, which drachtio-server could not survive answering', async () => {
    for (const contact of ['tel:+4930123', '<tel:+4930123>', '*', undefined, '<sip:a@127.0.0.1>, <sip:b@127.0.0.1>']) {
      const message = sipRequest({
        method: 'INVITE',
        uri: `sip:alice@${rig.target};app=voicebox`,
        local: proxy.local,
        headers: { 'Content-Type': 'application/sdp' },
        body: sdpOffer(),
      });
      const bent = contact === undefined ? message.replace(/^Contact: .*\r\n/m, '') : message.replace(/^Contact: .*$/m, `Contact: ${contact}`);
      const reply = final(await proxy.exchange(bent));
      assert.equal(`${reply?.status} ${reply?.reason}`, '400 Bad Request (Contact must be one SIP URI)', `Contact ${contact}`);
    }
    assert.ok(rig.drachtio.alive(), 'drachtio-server is alive');
    assert.equal(final(await invite(proxy, `sip:alice@${rig.target};app=voicebox`))?.status, 200, 'and answers the next call');
  });
});
