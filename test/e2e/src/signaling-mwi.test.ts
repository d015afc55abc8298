/**
 * MWI end to end (docs/behaviour.md §7): a phone SUBSCRIBEs through drachtio-server and gets 200 and a NOTIFY
 * with the counts the real storage service reports; a new message in storage becomes a NOTIFY
 * in that dialog and an unsolicited NOTIFY through the configured proxy (a sipp UAS here);
 * un-SUBSCRIBE ends the dialog. Media is not involved.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  encodeJson,
  ensureStreams,
  MWI_SUBSCRIPTIONS_BUCKET,
  MwiSubscriptionSchema,
  request,
  stageAudio,
  stagingBucket,
  StorageApi,
  SUBJECTS,
  type Mailbox,
  type MailboxChangedEvent,
} from '@sipvm/contracts';
import { freeTcpUdpPort, runSipp, smallWav, udpPortBound, waitFor } from '@sipvm/harness';
import { join } from 'node:path';
import { e2eSkipReason, SCENARIOS, sippReport, useSignalingRig } from './rig.js';

const skip = e2eSkipReason();
const mailbox: Mailbox = { did: 'example.org', uid: 'alice' };

/**
 * Whether a drachtio-server put the NOTIFY with this CSeq on the wire. Out of the dialog signaling
 * reserves a CSeq in KV before it sends, so the KV record alone does not prove the phone was told;
 * in the dialog drachtio-server chooses the CSeq, and the record keeps it once sent.
 */
const notifySent = (server: { output(): string }, cseq: number) => new RegExp(`^CSeq: ${cseq} NOTIFY\\r?$`, 'm').test(server.output());

describe('MWI through drachtio-server', { skip }, () => {
  let proxyPort = 0;
  const rig = useSignalingRig(
    async () => {
      proxyPort = await freeTcpUdpPort();
      return { MWI_PROXY: `sip:127.0.0.1:${proxyPort}`, MWI_MIN_EXPIRES: '60', MWI_MAX_EXPIRES: '900' };
    },
    { storage: true, media: 'fake', applications: 'fake' },
  );

  let staged = 0;
  const newMessage = async (urgent: boolean, to: Mailbox = mailbox) => {
    const staging = await stagingBucket(rig.nc);
    const audio = await stageAudio(
      staging,
      `mwi-test-${process.pid}-${staged++}`,
      (async function* () {
        yield smallWav(1);
      })(),
    );
    const { counts } = await request(
      rig.nc,
      StorageApi.createMessage,
      {
        mailbox: to,
        sender: 'sip:bob@caller.example.org',
        recordedAt: new Date().toISOString(),
        durationMs: 1000,
        codec: 'PCMU',
        urgent,
        audio,
      },
      { timeoutMs: 10_000 },
    );
    return counts;
  };

  it('refuses a subscription shorter than MWI_MIN_EXPIRES with 423', async () => {
    const result = await rig.sipp('mwi-subscribe-too-brief.xml', { service: 'alice', keys: { mwi_domain: 'example.org' } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    assert.match(result.messages, /^Min-Expires: 60\r?$/m);
  });

  it('SUBSCRIBE gets 200 and the current counts; a mailbox change NOTIFYs subscribers, and the proxy only for mailboxes without one; un-SUBSCRIBE ends it', async () => {
    // The proxy of unsolicited NOTIFYs: alice's first change (no subscription yet), then bob's.
    const proxy = runSipp({ scenario: join(SCENARIOS, 'mwi-unsolicited-uas.xml'), port: proxyPort, calls: 2, timeoutSeconds: 40 });
    await waitFor(() => udpPortBound(proxyPort), 10_000, 'the proxy (sipp) to listen');
    assert.deepEqual(await newMessage(false), { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });

    const phone = rig.sipp('mwi-subscribe.xml', { service: 'alice', timeoutSeconds: 40, keys: { mwi_domain: 'example.org', expires: '3600' } });
    const kv = await new Kvm(rig.nc).open(MWI_SUBSCRIPTIONS_BUCKET);
    const notifiedCseq = async () => {
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry?.operation === 'PUT') return MwiSubscriptionSchema.parse(entry.json()).cseq;
      }
      return 0;
    };
    const notified = async () => (await notifiedCseq()) >= 1;
    await rig.waitFor(notified, 'the subscription to be stored and first notified');
    const first = await notifiedCseq();
    await rig.waitFor(() => notifySent(rig.drachtio, first), 'the first NOTIFY to be sent');
    assert.deepEqual(await newMessage(true), { new: 2, saved: 0, urgentNew: 1, urgentSaved: 0 });
    // Events are handled in order: an unsolicited copy of alice's change would reach the proxy before bob's.
    await newMessage(false, { did: 'example.org', uid: 'bob' });

    const phoneResult = await phone;
    assert.equal(phoneResult.exitCode, 0, sippReport(phoneResult, rig));
    // Expires is cut to MWI_MAX_EXPIRES; the 200 has a Contact (RFC 6665 §4.2.1.1).
    const accepted = phoneResult.messages.split(/-{10,}/).find((m) => /^SIP\/2\.0 200 OK/m.test(m) && /^CSeq: 1 SUBSCRIBE/m.test(m)) ?? '';
    assert.match(accepted, /^Expires: 900\r?$/m, phoneResult.messages);
    assert.match(accepted, /^Contact: <?sip:/m);
    const notifies = phoneResult.messages.split(/-{10,}/).filter((m) => /^\s*NOTIFY /m.test(m) && /received/.test(m));
    assert.equal(notifies.length, 3, phoneResult.messages);
    assert.match(notifies[0] ?? '', /Subscription-State: active;expires=\d+/);
    assert.match(notifies[0] ?? '', /Messages-Waiting: yes\r?\nMessage-Account: sip:alice@example.org\r?\nVoice-Message: 1\/0 \(0\/0\)/);
    assert.match(notifies[1] ?? '', /Voice-Message: 2\/0 \(1\/0\)/);
    assert.match(notifies[2] ?? '', /Subscription-State: terminated/);
    const cseqs = notifies.map((n) => Number(/^CSeq: (\d+) NOTIFY/m.exec(n)?.[1]));
    assert.ok(cseqs[0]! < cseqs[1]! && cseqs[1]! < cseqs[2]!, `NOTIFY CSeqs increase: ${cseqs.join(', ')}`);
    await rig.waitFor(async () => !(await notified()), 'the subscription to be removed', 5_000);

    const proxyResult = await proxy;
    assert.equal(proxyResult.exitCode, 0, sippReport(proxyResult, rig));
    const unsolicited = proxyResult.messages.split(/-{10,}/).filter((m) => /^\s*NOTIFY sip:\S+ SIP\/2\.0/m.test(m) && /received/.test(m));
    assert.equal(unsolicited.length, 2, proxyResult.messages);
    assert.match(unsolicited[0] ?? '', /NOTIFY sip:alice@example\.org /);
    assert.match(unsolicited[0] ?? '', /Event: message-summary/);
    assert.match(unsolicited[0] ?? '', /Voice-Message: 1\/0 \(0\/0\)/);
    // alice's phone holds a subscription when her second message arrives: no copy through the proxy.
    assert.match(unsolicited[1] ?? '', /NOTIFY sip:bob@example\.org /);
    assert.match(unsolicited[1] ?? '', /Voice-Message: 1\/0 \(0\/0\)/);
  });
});

describe('MWI subscriptions outlive the instance that accepted them', { skip }, () => {
  const rig = useSignalingRig({}, { media: 'fake', applications: 'fake' });

  // drachtio-server ties a SUBSCRIBE dialog to the application connection that answered it, so a
  // refresh through the same drachtio-server after that instance is gone gets 481 from drachtio
  // itself (the phone then subscribes anew). What KV buys is the node failure: another node
  // notifies, and a node that comes back (drachtio-server and signaling) takes the dialog over.
  it('another node NOTIFYs from the KV record, and a restarted node takes the un-SUBSCRIBE', async () => {
    const nodeB = await rig.addNode();
    const phone = rig.sipp('mwi-subscribe.xml', { service: 'grace', timeoutSeconds: 40, keys: { mwi_domain: 'example.org', expires: '600' } });
    const kv = await new Kvm(rig.nc).open(MWI_SUBSCRIPTIONS_BUCKET);
    const cseq = async () => {
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry?.operation === 'PUT') return MwiSubscriptionSchema.parse(entry.json()).cseq;
      }
      return 0;
    };
    await rig.waitFor(async () => (await cseq()) >= 1, 'the subscription to be stored and first notified');
    const byA = await cseq();
    await rig.waitFor(() => notifySent(rig.drachtio, byA), 'the first NOTIFY to be sent');

    // The node that accepted the subscription goes away; the mailbox changes.
    await rig.signaling.stop();
    await rig.drachtio.stop();
    const js = jetstream(rig.nc);
    await ensureStreams(await jetstreamManager(rig.nc), ['mailbox']);
    const event: MailboxChangedEvent = {
      eventId: `handover-${process.pid}`,
      mailbox: { did: 'example.org', uid: 'grace' },
      change: 'message-created',
      messageId: '20261123T081847123Z-3fa9c0d2b4e1',
      counts: { new: 3, saved: 1, urgentNew: 0, urgentSaved: 1 },
      at: new Date().toISOString(),
    };
    await js.publish(SUBJECTS.mailbox.changed, encodeJson(event), { msgID: event.eventId });
    // Node A's drachtio-server held the dialog; node B sends outside it, with the next CSeq.
    await rig.waitFor(async () => (await cseq()) > byA, 'node B to take the next CSeq');
    const byB = await cseq();
    await rig.waitFor(() => notifySent(nodeB.drachtio, byB), 'node B to send its NOTIFY');
    // sipp answers to the address it called (node A), not to the Via, so node B would go on
    // retransmitting its NOTIFY into the phone's next transaction: node B leaves too.
    await nodeB.drachtio.stop();
    await rig.drachtio.start();
    await rig.restartSignaling();

    const result = await phone;
    assert.equal(result.exitCode, 0, `${sippReport(result, rig)}\n--- node B ---\n${nodeB.signaling.output().slice(-3000)}`);
    // Node B's NOTIFY may have been retransmitted before it left: count each CSeq once.
    const byCseq = new Map<string, string>();
    for (const m of result.messages.split(/-{10,}/).filter((m) => /^\s*NOTIFY /m.test(m) && /received/.test(m))) {
      byCseq.set(/^CSeq: (\d+) NOTIFY/m.exec(m)?.[1] ?? '', m);
    }
    const notifies = [...byCseq.values()];
    assert.equal(notifies.length, 3, result.messages);
    assert.match(notifies[1] ?? '', /Voice-Message: 3\/1 \(0\/1\)/);
    assert.match(notifies[1] ?? '', new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${nodeB.drachtio.sipPort}`, 'm'), 'sent by node B');
    assert.match(notifies[2] ?? '', /Subscription-State: terminated/);
    await rig.waitFor(async () => (await cseq()) === 0, 'the subscription to be removed');
  });
});
