/**
 * A SEMS installation moved over unchanged (docs/migrating-from-sems.md), end to end through drachtio-server: the
 * seed's subscriber profiles (lng=english, lng=german, and SER's P-Email-Address + P-Language
 * without eml), SEMS's default-greeting folder and mail templates used as they are, and a
 * msg_storage folder laid out exactly as SEMS writes it, imported with `npm run import:sems`
 * (its compiled main.js) and then heard in a voicebox call.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, StorageApi } from '@sipvm/contracts';
import {
  peakToneShare,
  RtpEndpoint,
  runSemsImport,
  SEMS_TEMPLATE_SAMPLE,
  startService,
  startSmtp,
  toneShare,
  toneWav,
  writeSemsGreeting,
  writeSemsMessage,
  type RunningServiceProcess,
  type SmtpSink,
} from '@sipvm/harness';
import { e2eSkipReason, sippReport, useSignalingRig, type CallEventSeen, type MediaRequestSeen } from './rig.js';

const skip = e2eSkipReason();

/** SEMS's default greeting per language, as its announce_path holds them (AnswerMachine.cpp's lookup). */
const GREETING_TONE = { englishForExampleOrg: 500, german: 700, anyLanguage: 400 };
/** Imported messages and greeting, by tone. */
const IMPORTED = { olderNew: 450, newerNew: 650, saved: 850, greeting: 300 };

const semsTemplate = (subject: string) => SEMS_TEMPLATE_SAMPLE.replace('Voice message from: %from%', subject);

describe('a SEMS installation moved over unchanged', { skip }, () => {
  // Known before the rig starts: media is started on SEMS's announce folder, which must exist then.
  const root = join(tmpdir(), `sipvm-e2e-sems-${process.pid}`);
  const announce = join(root, 'announce');
  const templates = join(root, 'templates');
  before(async () => {
    // voicemail.conf: announce_path, default_announce=default_en.wav; email_template_path.
    const greeting = async (path: string, tone: number) => {
      await mkdir(join(announce, path), { recursive: true });
      await writeFile(join(announce, path, 'default_en.wav'), toneWav(tone, 2_000));
    };
    await greeting('example.org/english', GREETING_TONE.englishForExampleOrg);
    await greeting('german', GREETING_TONE.german);
    await greeting('', GREETING_TONE.anyLanguage);
    await mkdir(templates);
    await writeFile(join(templates, 'default.template'), SEMS_TEMPLATE_SAMPLE);
    await writeFile(join(templates, 'default_english.template'), semsTemplate('English voice message from %from%'));
    await writeFile(join(templates, 'default_german.template'), semsTemplate('Neue Sprachnachricht von %from%'));
    await writeFile(join(templates, 'example.org_german.template'), semsTemplate('example.org: Sprachnachricht von %from%'));
  });
  const rig = useSignalingRig({}, { storage: true, mediaEnv: { SEMS_ANNOUNCE_PATH: announce } });
  let smtp: SmtpSink;
  let voicemail: RunningServiceProcess;
  let voicebox: RunningServiceProcess;

  before(async () => {
    smtp = await startSmtp();
    voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, ...smtp.env, MAIL_TEMPLATE_DIR: templates, MAIL_RETRY_DELAYS: '500ms' });
    voicebox = await startService('voicebox', { NATS_URL: rig.nats.url, VOICEBOX_INPUT_TIMEOUT_MS: '8s' });
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });
  after(async () => {
    await voicemail?.stop();
    await voicebox?.stop();
    await smtp?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A call; `caller` plays the caller's part. Returns what the phone heard and the events of the call. */
  async function call(
    scenario: string,
    keys: Record<string, string>,
    caller: (phone: RtpEndpoint, events: () => CallEventSeen[]) => Promise<void>,
    service?: string,
  ) {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const sipp = rig.sipp(scenario, { keys: { ...keys, rtp_port: String(phone.port) }, timeoutSeconds: 90, ...(service ? { service } : {}) });
    try {
      await phone.latchRemote(15_000);
      await caller(phone, () => rig.events.slice(from));
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig));
      return await phone.receivedPcm();
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  /** Hears the greeting out (greeting and beep are one playback that ends in the recording), speaks, presses #. */
  const leaveMessage = async (phone: RtpEndpoint, events: () => CallEventSeen[]) => {
    await rig.waitFor(
      () => events().some((e) => e.subject === 'vm.call.voicemail.playback-finished' && typeof e.event.recordingStartedAt === 'string'),
      'the greeting and beep to end and the recording to start',
      30_000,
    );
    await phone.sendTone(1_000, 2_000);
    await phone.sendDigits('#');
  };

  const heardGreeting = (heard: Int16Array, tone: number) => {
    const others = Object.values(GREETING_TONE).filter((t) => t !== tone);
    assert.ok(peakToneShare(heard, tone) > 0.8, `the caller did not hear the ${tone} Hz greeting`);
    for (const other of others) assert.ok(toneShare(heard, other) < 0.05, `the caller heard the ${other} Hz greeting too`);
  };

  for (const { lng, tone, subject } of [
    { lng: 'english', tone: GREETING_TONE.englishForExampleOrg, subject: 'English voice message from sip:bob@caller.example.org' },
    { lng: 'german', tone: GREETING_TONE.german, subject: 'example.org: Sprachnachricht von sip:bob@caller.example.org' },
    { lng: 'klingon', tone: GREETING_TONE.anyLanguage, subject: 'Voice message from: sip:bob@caller.example.org' },
  ]) {
    it(`lng=${lng}: answered, greeted in that language, mailed with the matching SEMS template`, async () => {
      const appParam = `mod=voicemail;eml='alice@mymail.org';usr=alice;snd='sip:bob@caller.example.org';dom=example.org;lng=${lng};`;
      const heard = await call('voicemail-platform-bye.xml', { app_name: 'voicemail', app_param: appParam }, leaveMessage);
      heardGreeting(heard, tone);
      const [mail] = await smtp.waitForMessages(1, 30_000);
      assert.equal(mail?.subject, subject);
      assert.equal(mail?.headers.get('x-content'), 'Voicemail');
      assert.equal(mail?.headers.get('x-voicemail-sender'), 'sip:bob@caller.example.org');
      assert.match(mail?.text ?? '', /The message is \d+\.\d\ds long\./);
    });
  }

  it("SER's P-Email-Address and P-Language without eml: answered, greeted in German, mailed there with the German template", async () => {
    const heard = await call('voicemail-seed-headers.xml', { email: 'alex@iptel.org', language: 'german' }, leaveMessage, 'alex');
    heardGreeting(heard, GREETING_TONE.german);
    const [mail] = await smtp.waitForMessages(1, 30_000);
    assert.equal((Array.isArray(mail?.to) ? mail?.to[0] : mail?.to)?.text, 'alex@iptel.org');
    assert.equal(mail?.subject, 'Neue Sprachnachricht von sip:bob@caller.example.org');
    assert.match(mail?.text ?? '', /^Hello alex@127\.0\.0\.1,/);
  });

  it('imports a msg_storage folder laid out as SEMS writes it; the voicebox plays its messages with the right counts, voicemail its greeting', async () => {
    const spool = join(root, 'voicebox-spool');
    const carol = { domain: 'example.org', user: 'carol' };
    await writeSemsMessage(spool, {
      ...carol,
      ts: 1_700_000_000,
      sender: 'sip:+4930111@carrier.example',
      audio: toneWav(IMPORTED.olderNew, 2_000),
      saved: false,
    });
    await writeSemsMessage(spool, {
      ...carol,
      ts: 1_700_000_600,
      sender: '"Bob" <sip:bob@example.net>;tag=77',
      audio: toneWav(IMPORTED.newerNew, 2_000),
      saved: false,
    });
    await writeSemsMessage(spool, { ...carol, ts: 1_690_000_000, sender: 'sip:old@example.net', audio: toneWav(IMPORTED.saved, 2_000), saved: true });
    await writeSemsGreeting(spool, { ...carol, type: 'vm', audio: toneWav(IMPORTED.greeting, 2_000) });

    const run = await runSemsImport(rig.nats, ['--from', spool]);
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /messages: {2}3 imported \(2 new, 1 saved\)/, run.output);
    assert.match(run.stdout, /greetings: 1 imported/, run.output);
    const mailbox = { did: 'example.org', uid: 'carol' };
    assert.deepEqual((await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts, { new: 2, saved: 1, urgentNew: 0, urgentSaved: 0 });

    const requestsFrom = rig.mediaRequests.length;
    const heard = await call('voicemail-platform-bye.xml', { app_name: 'voicebox', app_param: 'usr=carol;dom=example.org;lng=english;' }, async (phone) => {
      const hears = (tone: number, what: string) => rig.waitFor(async () => peakToneShare(await phone.receivedPcm(), tone) > 0.8, what, 60_000);
      await hears(IMPORTED.newerNew, 'the newest new message');
      await phone.sendDigits('6');
      await hears(IMPORTED.olderNew, 'the older new message');
      await phone.sendDigits('6');
      await hears(IMPORTED.saved, 'the saved message');
      await phone.sendDigits('*');
    });
    const plays = rig.mediaRequests.slice(requestsFrom).filter((r) => r.subject.endsWith('.play'));
    const summary = (plays[0]?.request as MediaRequestSeen['request'] & { items?: { kind: string; name?: string; value?: number }[] }).items ?? [];
    assert.deepEqual(
      summary.map((i) => i.name ?? `${i.kind}:${i.value}`),
      ['welcome_voicebox', 'you_have', 'number:2', 'new_messages', 'and', 'one_saved_message'],
    );
    assert.ok(peakToneShare(heard, IMPORTED.saved) > 0.8);

    const greeted = await call(
      'voicemail-platform-bye.xml',
      { app_name: 'voicemail', app_param: 'mod=ann;usr=carol;dom=example.org;lng=english;' },
      async () => undefined,
    );
    assert.ok(peakToneShare(greeted, IMPORTED.greeting) > 0.8, 'the imported greeting was not played');
  });
});
