/**
 * Voicemail to text, end to end (docs/behaviour.md §9): sipp places the call through a real drachtio-server,
 * the project's RTP endpoint speaks a sentence (espeak-ng, 8 kHz, PCMU) after the beep, and the
 * real signaling, media (rtpengine), voicemail, storage and web services and an SMTP server do the
 * rest. The mail carries what the engine heard — Debian's pocketsphinx, then an OpenAI-compatible
 * endpoint (the harness's FAKE server, strict about the API's format) — and so do the HTTP API and
 * the web inbox, beside the player. With the engine stopped, the message and its mail still arrive.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request, StorageApi, type Mailbox, type MessageInfo, type Transcript } from '@sipvm/contracts';
import {
  RtpEndpoint,
  spokenPcm,
  startFakeTranscriptionServer,
  startService,
  startSmtp,
  startWebService,
  tempDir,
  TEST_SENTENCES,
  wordErrors,
  type FakeTranscriptionServer,
  type RunningServiceProcess,
  type RunningWebService,
  type SmtpSink,
} from '@sipvm/harness';
import { browserSkipReason, openBrowser } from './browser.js';
import { e2eSkipReason, sippReport, useSignalingRig, type CallEventSeen } from './rig.js';

const skip = e2eSkipReason();
const SAID = TEST_SENTENCES[0]!;
const DOMAIN = 'speech.example';

const appParam = (uid: string, mode: string) => `mod=${mode};eml='${uid}@mymail.org';usr=${uid};snd='sip:john@garage.example';dom=${DOMAIN};lng=en;`;

describe('voicemail to text, end to end', { skip }, () => {
  const rig = useSignalingRig({}, { storage: true });
  let smtp: SmtpSink;
  let web: RunningWebService;
  let voicemail: RunningServiceProcess;
  let server: FakeTranscriptionServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const speech = spokenPcm(SAID);

  const startVoicemail = (engine: Record<string, string>) =>
    startService('voicemail', { NATS_URL: rig.nats.url, ...smtp.env, VM_DOMAINS_FILE: join(dir.path, 'domains.json'), MAIL_RETRY_DELAYS: '500ms', ...engine });

  before(async () => {
    smtp = await startSmtp();
    dir = await tempDir('transcription-e2e');
    // The domain's mail waits up to a minute for the text; every other domain has transcription off.
    await writeFile(join(dir.path, 'domains.json'), JSON.stringify({ [DOMAIN]: { transcription: 'wait', transcriptionWaitMs: 60_000 } }));
    server = await startFakeTranscriptionServer({ key: 'sk-e2e-key-0123456789' });
    await writeFile(join(dir.path, 'key'), 'sk-e2e-key-0123456789\n');
    web = await startWebService({ NATS_URL: rig.nats.url });
    voicemail = await startVoicemail({});
  });
  after(async () => {
    await voicemail?.stop();
    await web?.stop();
    await server?.close();
    await smtp?.close();
    await dir?.remove();
  });

  /** A caller who skips the greeting, speaks the sentence after the beep and presses #. */
  async function leaveSpokenMessage(uid: string, mode = 'both'): Promise<Mailbox> {
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const events = () => rig.events.slice(from);
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicemail', app_param: appParam(uid, mode), rtp_port: String(phone.port) },
      timeoutSeconds: 90,
    });
    try {
      await phone.latchRemote(15_000);
      await phone.sendDigits('#');
      await rig.waitFor(
        () =>
          events().some(
            (e: CallEventSeen) =>
              e.subject === 'vm.call.voicemail.playback-finished' && e.event.playbackId === 'p2' && typeof e.event.recordingStartedAt === 'string',
          ),
        'the beep to end and the recording to start',
        30_000,
      );
      await phone.sendPcm(speech);
      await phone.sendDigits('#');
      const result = await sipp;
      assert.equal(result.exitCode, 0, sippReport(result, rig));
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
    return { did: DOMAIN, uid };
  }

  const mailFor = async (mailbox: Mailbox, timeoutMs = 40_000) => {
    const to = `${mailbox.uid}@mymail.org`;
    const mine = () => smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.text === to);
    await rig.waitFor(() => mine().length > 0, `the mail to ${to}\n--- voicemail ---\n${voicemail.output().slice(-3000)}`, timeoutMs);
    return mine()[0]!;
  };
  const storedMessage = async (mailbox: Mailbox): Promise<MessageInfo> => {
    const [message] = (await request(rig.nc, StorageApi.listMailbox, { mailbox })).messages;
    assert.ok(message, 'the message is stored');
    return message;
  };
  const transcriptOf = async (mailbox: Mailbox): Promise<Transcript> => {
    const { id } = await storedMessage(mailbox);
    let transcript: Transcript | undefined;
    await rig.waitFor(
      async () => (transcript = (await request(rig.nc, StorageApi.getMessage, { mailbox, id })).message.transcript) !== undefined,
      'the transcript in the stored message',
      30_000,
    );
    return transcript!;
  };
  const apiMessage = async (mailbox: Mailbox, id: string) => {
    const token = await web.issueToken(mailbox);
    const response = await fetch(`${web.url}/api/v1/mailboxes/${mailbox.did}/${mailbox.uid}/messages/${id}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    return (await response.json()) as { transcript?: Transcript };
  };

  it('mails what pocketsphinx heard in the spoken message, and the API shows it', async () => {
    const mailbox = await leaveSpokenMessage('offline');
    const mail = await mailFor(mailbox);
    const transcript = await transcriptOf(mailbox);
    assert.ok(transcript.status === 'done', JSON.stringify(transcript));
    assert.equal(transcript.engine, 'pocketsphinx');
    const quoted = /The caller said \(transcribed by machine, so it may be wrong\):\n"(.*)"\n/.exec(mail.text ?? '')?.[1];
    assert.equal(quoted, transcript.text, `the mail carries the engine's text:\n${mail.text}`);
    const { rate } = wordErrors(SAID, transcript.text);
    assert.ok(rate < 0.9, `through the call it heard "${transcript.text}" (word error rate ${rate.toFixed(2)})`);
    assert.equal(mail.attachments[0]?.contentType, 'audio/wav', 'the recording is attached');
    const { id } = await storedMessage(mailbox);
    assert.deepEqual((await apiMessage(mailbox, id)).transcript, transcript);
  });

  it('shows the text in the web inbox beside the player', { skip: browserSkipReason() }, async () => {
    const mailbox: Mailbox = { did: DOMAIN, uid: 'offline' };
    const { id } = await storedMessage(mailbox);
    const transcript = await transcriptOf(mailbox);
    assert.ok(transcript.status === 'done');
    const browser = await openBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${web.url}/#token=${await web.issueToken(mailbox)}`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
      const item = page.locator(`li[data-id="${id}"]`);
      assert.equal(await item.locator('figure.transcript blockquote').textContent(), transcript.text);
      assert.equal(await item.locator('figure.transcript blockquote').getAttribute('lang'), 'en');
      // Beside the player: right after the inbox's player (its button, slider and <audio>).
      assert.equal(await item.locator('div.player + figure.transcript').count(), 1);
      await page.close();
    } finally {
      await browser.close();
    }
  });

  it('mails what an OpenAI-compatible endpoint answers for the spoken message', async () => {
    await voicemail.stop();
    voicemail = await startVoicemail({
      TRANSCRIBE_ENGINE: 'openai',
      TRANSCRIBE_URL: server.url,
      TRANSCRIBE_MODEL: 'whisper-1',
      TRANSCRIBE_KEY_FILE: join(dir.path, 'key'),
    });
    server.answer = (request) => ({
      status: 200,
      body: { text: `Hello, this is John from the garage (${(request.file.bytes.length / 16_000).toFixed(0)} s).` },
    });
    const mailbox = await leaveSpokenMessage('whisper');
    const mail = await mailFor(mailbox);
    const seen = server.requests.at(-1);
    assert.ok(seen, 'the endpoint was asked');
    assert.deepEqual([seen.model, seen.language, seen.file.type], ['whisper-1', 'en', 'audio/wav']);
    const seconds = (seen.file.bytes.length / 16_000).toFixed(0);
    assert.match(mail.text ?? '', new RegExp(`\\n"Hello, this is John from the garage \\(${seconds} s\\)\\."\\n`));
    assert.ok(Number(seconds) >= 7, `the whole spoken message went to the endpoint (${seconds} s)`);
    assert.equal((await transcriptOf(mailbox)).status, 'done');
  });

  it('still stores and mails the message, marked "no transcript", with the engine stopped', async () => {
    await server.close();
    const mailbox = await leaveSpokenMessage('stopped');
    const mail = await mailFor(mailbox, 30_000);
    assert.match(mail.text ?? '', /There is no transcript of this message\./);
    assert.equal(mail.attachments[0]?.contentType, 'audio/wav');
    const message = await storedMessage(mailbox);
    assert.ok(message.durationMs > 6_000, `the whole message is stored (${message.durationMs} ms)`);
    const transcript = await transcriptOf(mailbox);
    assert.deepEqual(transcript.status === 'none' && transcript.reason, 'engine-failed');
    assert.deepEqual((await apiMessage(mailbox, message.id)).transcript, transcript);
  });
});
