/**
 * What subscribers of a carrier's voicemail expect (docs/behaviour.md), end to end: sipp places the calls
 * through a real drachtio-server, the project's RTP endpoint is the phone (it speaks tones, presses
 * keys and hears what the platform plays), and the real signaling, media (rtpengine), voicemail,
 * voicebox and storage services and an SMTP server do the rest; unsolicited NOTIFYs go to a SIP
 * endpoint of the test standing in for the proxy.
 *
 *  - a full mailbox is said before the beep, and its owner was told when it filled;
 *  - a message marked urgent after `#` is played first, and said so;
 *  - a message forwarded in the voicebox reaches the other mailbox, with its MWI;
 *  - `typ=busy` for a subscriber who recorded only `vm` plays their own voice;
 *  - a French voicebox counts in French.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DepositOutcomeSchema, request, stageAudio, stagingBucket, StorageApi, SUBJECTS, type DepositOutcome, type Mailbox } from '@sipvm/contracts';
import {
  correlation,
  dominantFrequency,
  peakToneShare,
  REPO_ROOT,
  RtpEndpoint,
  SipUdpClient,
  startService,
  startSmtp,
  toneShare,
  toneWav,
  wavSamples,
  type RunningServiceProcess,
  type SmtpSink,
} from '@sipvm/harness';
import { e2eSkipReason, useSignalingRig } from './rig.js';
import { callApplication, depositTone, type Caller } from './app-calls.js';

const skip = e2eSkipReason();
const DOMAIN = 'example.org';
const TONE = 1000;

const appParam = (uid: string, extra = '') => `usr=${uid};dom=${DOMAIN};uid=${uid};did=${DOMAIN};snd='sip:+4930555@caller.example.org';${extra}`;

describe('what subscribers expect, end to end', { skip }, () => {
  let proxy: SipUdpClient;
  const rig = useSignalingRig(
    async () => {
      proxy = await SipUdpClient.open('127.0.0.1');
      return { MWI_PROXY: `sip:${proxy.local}` };
    },
    { storage: true },
  );
  let smtp: SmtpSink;
  let voicemail: RunningServiceProcess;
  let voicebox: RunningServiceProcess;
  const outcomes: DepositOutcome[] = [];

  before(async () => {
    // The stand-in proxy answers what it receives (NOTIFYs) towards drachtio-server.
    proxy.target = rig.target;
    smtp = await startSmtp();
    voicemail = await startService('voicemail', {
      NATS_URL: rig.nats.url,
      ...smtp.env,
      VM_MIN_MESSAGE_MS: '1000',
      VM_URGENT_WAIT_MS: '3s',
      MAIL_RETRY_DELAYS: '500ms',
    });
    voicebox = await startService('voicebox', { NATS_URL: rig.nats.url, VOICEBOX_INPUT_TIMEOUT_MS: '8s' });
    rig.nc.subscribe(SUBJECTS.voicemail.depositOutcome, { callback: (_e, msg) => void outcomes.push(DepositOutcomeSchema.parse(msg.json())) });
  });
  after(async () => {
    await voicebox?.stop();
    await voicemail?.stop();
    await smtp?.close();
    await proxy?.close();
  });

  /** A message of a tone, stored the way voicemail stores one. */
  const deposit = (mailbox: Mailbox, frequency: number, recordedAt = new Date().toISOString(), urgent = false) =>
    depositTone(rig, mailbox, frequency, { recordedAt, urgent });

  /** A recording's start or stop (not its release, which follows the call's end at a moment of its own). */
  const RECORDING_STEP = /\.record\.(start|stop)$/;
  /** Places a call to `app`; returns what the phone heard and the play and record requests. */
  async function call(app: 'voicebox' | 'voicemail', params: string, caller: Caller) {
    const { heard, requests } = await callApplication(
      rig,
      app,
      params,
      caller,
      () => `\n--- ${app} ---\n${(app === 'voicebox' ? voicebox : voicemail).output().slice(-4000)}`,
    );
    return { heard, plays: requests.filter((r) => r.subject.endsWith('.play') || RECORDING_STEP.test(r.subject)) };
  }
  type Item = { kind: string; name?: string; type?: string; value?: number; language?: string };
  const itemsOf = (r: { request: unknown }) => (r.request as { items?: Item[] }).items ?? [];
  const describePlay = (r: { subject: string; request: unknown }) =>
    RECORDING_STEP.test(r.subject)
      ? 'record'
      : `${itemsOf(r)
          .map((i) => i.name ?? (i.kind === 'greeting' ? `greeting:${i.type}` : i.kind))
          .join('+')}${(r.request as { thenRecord?: unknown }).thenRecord ? ' then record' : ''}`;
  const outcomeFor = async (uid: string, count = 1) => {
    await rig.waitFor(() => outcomes.filter((o) => o.mailbox?.uid === uid).length >= count, `deposit outcome ${count} for ${uid}`, 30_000);
    return outcomes.filter((o) => o.mailbox?.uid === uid)[count - 1]!;
  };
  /** Leaves a message: skips the greeting, waits for the recording, speaks `frequency`, then presses `#`. */
  const leaveMessage =
    (frequency: number, after?: (phone: RtpEndpoint, playing: (id: string) => Promise<void>) => Promise<void>) =>
    async (phone: RtpEndpoint, played: (id: string) => Promise<void>, playing: (id: string) => Promise<void>) => {
      await phone.sendDigits('#');
      await played('p2'); // the beep; media records from its end
      await phone.sendTone(frequency, 2_500);
      await phone.sendDigits('#');
      if (after) await after(phone, playing);
    };

  it('a full mailbox: its owner is told when it fills; the next caller hears "mailbox full", no beep, and nothing is recorded; mode both still mails', async () => {
    const mailbox = { did: DOMAIN, uid: 'fulluser' };
    await deposit(mailbox, 450);
    const params = appParam('fulluser', `mod=box;max=2;eml='fulluser@mymail.org';lng=en;`);
    // The message that fills it (the urgent offer goes by: no key).
    await call('voicemail', params, leaveMessage(TONE));
    assert.equal((await outcomeFor('fulluser')).outcome, 'stored');
    const [notice] = await smtp.waitForMessages(1, 20_000);
    assert.equal(notice?.subject, 'Your voice mailbox is full (2 messages)');
    assert.match(JSON.stringify(notice?.to), /fulluser@mymail\.org/);

    const full = await call('voicemail', params, async () => undefined);
    assert.deepEqual(full.plays.map(describePlay), ['mailbox_full'], 'no greeting, no beep, no recording');
    assert.equal((await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts.new, 2);

    smtp.messages.length = 0;
    const both = await call('voicemail', appParam('fulluser', `mod=both;max=2;eml='fulluser@mymail.org';`), leaveMessage(TONE));
    assert.equal(both.plays.map(describePlay)[0], 'default_greeting+beep then record', 'mode both: greeting and beep as ever');
    assert.equal((await outcomeFor('fulluser', 2)).outcome, 'mailed', 'mailed, not stored');
    assert.equal((await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts.new, 2);
    const [mail] = await smtp.waitForMessages(1, 20_000);
    assert.match(mail?.subject ?? '', /^Voice message from/);
  });

  it('urgent: 1 after # marks the message; the voicebox plays it first and says so', async () => {
    const mailbox = { did: DOMAIN, uid: 'urgentuser' };
    const URGENT_TONE = 850;
    const left = await call(
      'voicemail',
      appParam('urgentuser', 'mod=box;'),
      leaveMessage(URGENT_TONE, async (phone, playing) => {
        await playing('p3'); // "to mark it urgent, press 1"
        await phone.sendDigits('1');
      }),
    );
    assert.deepEqual(
      left.plays
        .map(describePlay)
        .filter((p) => p !== 'record')
        .slice(2),
      ['urgent_offer', 'message_marked_urgent'],
      'greeting, beep, then the offer',
    );
    assert.equal((await outcomeFor('urgentuser')).outcome, 'stored');
    await deposit(mailbox, 450, new Date(Date.now() + 60_000).toISOString()); // newer, not urgent
    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
    assert.deepEqual(
      messages.map((m) => m.urgent),
      [false, true],
      'stored urgent',
    );

    const listened = await call('voicebox', appParam('urgentuser'), async (phone, played, playing) => {
      await played('p1'); // the summary
      await playing('p3'); // the first message itself
      await rig.waitFor(async () => peakToneShare(await phone.receivedPcm(), URGENT_TONE) > 0.8, 'the caller to hear the urgent message');
      await phone.sendDigits('*');
    });
    assert.equal(listened.plays.map(describePlay)[1], 'first_urgent_message');
    assert.ok(peakToneShare(listened.heard, 450) < 0.5, 'the newer message was not played first');
  });

  it('forward: the message reaches the other mailbox as a new message there, and its lamp is lit', async () => {
    const from = { did: DOMAIN, uid: 'fwdfrom' };
    const to = { did: DOMAIN, uid: '2002' };
    const FORWARDED = 520;
    const original = await deposit(from, FORWARDED);
    const notifiesBefore = proxy.requests.length;
    const forwarding = await call('voicebox', appParam('fwdfrom'), async (phone, played, playing) => {
      await played('p2'); // "first new message"
      await playing('p3'); // the message
      await phone.sendDigits('8');
      await playing('p4'); // "enter the number"
      await phone.sendDigits('2002#');
      await playing('p5'); // "1 for an introduction, 2 as it is"
      await phone.sendDigits('2');
      await playing('p6'); // "message forwarded", the menu
      await phone.sendDigits('*');
    });
    assert.ok(forwarding.plays.map(describePlay).includes('message_forwarded+message_menu'), forwarding.plays.map(describePlay).join('\n'));
    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox: to });
    assert.equal(messages.length, 1);
    assert.deepEqual([messages[0]!.read, messages[0]!.forwardedFrom], [false, from]);
    assert.equal((await request(rig.nc, StorageApi.getMessage, { mailbox: from, id: original })).message.read, true, 'the original stays, heard');
    await rig.waitFor(
      () => proxy.requests.slice(notifiesBefore).some((r) => /^NOTIFY sip:2002@example\.org /.test(r) && /Messages-Waiting: yes/.test(r)),
      "the other mailbox's NOTIFY",
      15_000,
    );
  });

  it('typ=busy for a subscriber who recorded only vm: their own greeting, not the domain default', async () => {
    const mailbox = { did: DOMAIN, uid: 'greetuser' };
    const OWN = 700;
    const audio = await stageAudio(
      await stagingBucket(rig.nc),
      `features-greeting-${process.pid}`,
      (async function* () {
        yield toneWav(OWN, 2_000);
      })(),
    );
    await request(rig.nc, StorageApi.putGreeting, { mailbox, type: 'vm', audio });
    const busy = await call('voicemail', appParam('greetuser', 'mod=ann;typ=busy;'), async () => undefined);
    assert.deepEqual(busy.plays.map(describePlay), ['greeting:vm']);
    assert.ok(Math.abs(dominantFrequency(busy.heard) - OWN) < 30, `the busy caller heard ${dominantFrequency(busy.heard)} Hz`);
    assert.ok(toneShare(busy.heard, OWN) > 0.5);
  });

  it('a French voicebox counts in French', async () => {
    const mailbox = { did: DOMAIN, uid: 'francais' };
    for (let i = 0; i < 3; i++) await deposit(mailbox, 450 + i * 100, new Date(Date.now() - i * 60_000).toISOString());
    const french = await call('voicebox', appParam('francais', 'lng=fr;'), async (phone, played) => {
      await played('p1'); // "Bienvenue … Vous avez trois nouveaux messages et aucun message sauvegardé"
      await phone.sendDigits('*');
    });
    const summary = itemsOf(french.plays[0]!);
    assert.deepEqual(
      summary.map((i) => i.name ?? `${i.kind}:${i.value}`),
      ['welcome_voicebox', 'you_have', 'number:3', 'new_messages', 'and', 'no_count', 'saved_message'],
      '"aucun" takes the singular',
    );
    assert.ok(summary.every((i) => i.language === 'fr'));
    // What was heard is the French "trois", not the English "three" or the German "drei".
    const piece = async (language: string) =>
      wavSamples(await readFile(join(REPO_ROOT, 'services', 'media', 'prompts', 'build', language, 'num_3.wav'))).samples;
    const [fr, en, de] = [await piece('fr'), await piece('en'), await piece('de')];
    const found = (reference: Int16Array) => correlation(french.heard, reference, french.heard.length).value;
    const scores = { fr: found(fr), en: found(en), de: found(de) };
    assert.ok(scores.fr > 0.8 && scores.fr > scores.en + 0.2 && scores.fr > scores.de + 0.2, JSON.stringify(scores));
  });
});
