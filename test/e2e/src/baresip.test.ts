/**
 * A real softphone through a real proxy: baresip (Debian) registered to Kamailio running the
 * shipped deploy/kamailio/kamailio.cfg, in front of the platform (one node: drachtio-server,
 * signaling, rtpengine, media; storage, voicemail, voicebox). Bob Smith (030 1234567) calls Alice
 * from an opus phone;
 * Alice's phone is busy (it declines), so the proxy sends the call to her voicemail: the greeting,
 * `#` as an RFC 4733 event, the beep, Bob's tone, and the message is stored and mailed. Alice's
 * phone, subscribed to message-summary since it registered, sees the lamp go on; she calls the
 * voicebox from a G.722 phone, types her PIN as RFC 4733 events, hears the message, and the lamp
 * goes off (the message is heard: saved).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { request, StorageApi, type Mailbox } from '@sipvm/contracts';
import {
  baresipMissingReason,
  drachtioMissingReason,
  kamailioMissingReason,
  prerequisite,
  startBaresip,
  startCluster,
  startSmtp,
  tempDir,
  toneShare,
  toneWav,
  wavSamples,
  type Baresip,
  type Cluster,
  type SmtpSink,
  type TempDir,
} from '@sipvm/harness';

const skip = prerequisite('the softphone tests', drachtioMissingReason() ?? (await kamailioMissingReason()) ?? (await baresipMissingReason()));
const DOMAIN = 'example.org';
const TONE = 1000;
const alice: Mailbox = { did: DOMAIN, uid: 'alice' };

describe('baresip through Kamailio', { skip, timeout: 240_000 }, () => {
  let cluster: Cluster;
  let smtp: SmtpSink;
  let nc: NatsConnection;
  let files: TempDir;
  const phones: Baresip[] = [];

  before(async () => {
    files = await tempDir('baresip-audio');
    smtp = await startSmtp();
    cluster = await startCluster({
      nodes: 1,
      natsServers: 1,
      storage: 'local',
      profiles: [{ username: 'alice', domain: DOMAIN, mode: 'both', email: 'alice@example.org', pin: '4711' }],
      // Callers' numbers are German unless they say otherwise.
      voicemailEnv: { ...smtp.env, VM_COUNTRY: 'DE' },
    });
    nc = await cluster.nats.connect();
  });
  after(async () => {
    for (const phone of phones) await phone.close();
    await nc?.close();
    await cluster?.close();
    await smtp?.close();
    await files?.remove();
  });

  const phone = async (name: string, displayName: string, codecs: string[], audio: Buffer, register = false) => {
    const file = join(files.path, `${phones.length}.wav`);
    await writeFile(file, audio);
    const started = await startBaresip({
      host: `127.0.4.${phones.length + 1}`,
      aor: `sip:${name}@${DOMAIN}`,
      displayName,
      proxy: cluster.proxy.target,
      codecs,
      audioFile: file,
      register,
    });
    phones.push(started);
    return started;
  };
  const explain = () => [...phones.map((p) => `--- baresip ${p.host} ---\n${p.output().slice(-4000)}`), cluster.explain()].join('\n');
  const counts = async () => (await request(nc, StorageApi.countMailbox, { mailbox: alice })).counts;

  it("a busy phone sends the caller (opus) to voicemail; the message is stored and mailed with the caller's tone; the subscribed phone sees the lamp go on", async () => {
    // Alice's phone registers, and so subscribes to her message-summary. It says nothing (its
    // calls last as long as its audio file: 60 s of silence).
    const alicePhone = await phone('alice', 'Alice', ['G722/16000/1', 'opus/48000/2'], toneWav(TONE, 60_000, 0), true);
    const first = await alicePhone.waitForEvent((e) => e.type === 'MWI_NOTIFY', 'the first MWI NOTIFY', 15_000);
    assert.match(first.param ?? '', /Messages-Waiting: no/i, explain());

    // Bob, a Berlin number, speaks 6 s of tone; his phone hangs up when the file ends.
    const bob = await phone('0301234567', 'Bob Smith', ['opus/48000/2'], toneWav(TONE, 6_000));
    await bob.command(`dial sip:alice@${DOMAIN}`);
    await alicePhone.waitForEvent((e) => e.type === 'CALL_INCOMING', "the call to ring at Alice's phone");
    await alicePhone.command('hangup');
    await bob.waitForEvent((e) => e.type === 'CALL_ESTABLISHED', 'voicemail to answer Bob', 15_000);
    assert.match(bob.output(), /audio: Set audio encoder: opus 48000Hz/, "Bob's call is opus");
    // Skip the greeting: `#` goes out as an RFC 4733 event.
    assert.equal((await bob.command('sndcode #')).ok, true, explain());
    await bob.waitForEvent((e) => e.type === 'CALL_CLOSED', "Bob's call to end", 20_000);

    const [mail] = await smtp.waitForMessages(1, 30_000);
    // The caller as a person, the length in words.
    assert.match(mail?.subject ?? '', /^Voice message from Bob Smith \(030 1234567\) \(\d seconds\)$/, explain());
    assert.match(mail?.text ?? '', /^Bob Smith \(030 1234567\) left you a voice message of \d seconds on /m);
    const attachment = mail?.attachments[0];
    assert.ok(attachment, 'the mail has the recording attached');
    assert.ok(toneShare(wavSamples(attachment.content).samples, TONE) > 0.5, `the mailed recording is not Bob's ${TONE} Hz tone`);
    const { messages } = await request(nc, StorageApi.listMailbox, { mailbox: alice });
    assert.equal(messages.length, 1, explain());
    assert.equal(messages[0]?.codec, 'opus');
    assert.deepEqual(messages[0]?.caller, { name: 'Bob Smith', number: '+49301234567', numberText: '030 1234567', withheld: false });
    assert.ok((messages[0]?.durationMs ?? 0) >= 2_000, `message of ${messages[0]?.durationMs} ms`);

    await alicePhone.waitForEvent((e) => e.type === 'MWI_NOTIFY' && /Messages-Waiting: yes/i.test(e.param ?? ''), 'the lamp to go on', 15_000);
    assert.match(alicePhone.events.filter((e) => e.type === 'MWI_NOTIFY').at(-1)?.param ?? '', /Voice-Message: 1\/0/);
  });

  it('the voicebox from a G.722 phone: the PIN as RFC 4733 events, the message played, the lamp off', async () => {
    const alicePhone = phones[0]!;
    const notifiesBefore = alicePhone.events.filter((e) => e.type === 'MWI_NOTIFY').length;
    await alicePhone.command(`dial sip:1000@${DOMAIN}`);
    await alicePhone.waitForEvent((e) => e.type === 'CALL_ESTABLISHED', 'the voicebox to answer', 15_000);
    assert.match(alicePhone.output(), /audio: Set audio encoder: G722 16000Hz/, 'the voicebox call is G.722');
    // The PIN prompt starts at once; digits typed during it are taken.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal((await alicePhone.command('sndcode 4711#')).ok, true, explain());
    // Hearing the new message begins its playback, which marks it heard: the lamp goes off.
    await alicePhone.waitForEvent(
      (e) =>
        e.type === 'MWI_NOTIFY' &&
        alicePhone.events.filter((n) => n.type === 'MWI_NOTIFY').indexOf(e) >= notifiesBefore &&
        /Messages-Waiting: no/i.test(e.param ?? ''),
      'the lamp to go off once the message is heard',
      30_000,
    );
    assert.deepEqual(await counts(), { new: 0, saved: 1, urgentNew: 0, urgentSaved: 0 });
    await alicePhone.command('hangup');
    await alicePhone.waitForEvent((e) => e.type === 'CALL_CLOSED', 'the voicebox call to end');
  });
});
