/**
 * Transcription, from deposit to mail and stored message: a real nats-server, storage service and
 * SMTP server, the voicemail service as a process, and spoken messages (espeak-ng, 8 kHz). Once
 * with Debian's pocketsphinx, once with an OpenAI-compatible endpoint (the harness's FAKE server,
 * which checks the API's request format): the mail that waits carries the engine's text, the
 * message keeps it; a failing, slow or absent engine never costs a message or its mail.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  publishDeposit,
  readAudio,
  request,
  stageAudio,
  stagingBucket,
  StorageApi,
  STREAMS,
  type DepositInput,
  type Mailbox,
  type MessageInfo,
  type StagingBucket,
  type Transcript,
} from '@sipvm/contracts';
import {
  sleep,
  spokenWav,
  startFakeTranscriptionServer,
  startNats,
  startService,
  startSmtp,
  tempDir,
  TEST_SENTENCES,
  waitFor,
  wordErrors,
  wordsOf,
  type FakeTranscriptionServer,
  type NatsServer,
  type RunningServiceProcess,
  type SmtpSink,
} from '@sipvm/harness';

const SAID = TEST_SENTENCES[0]!;
type ParsedMail = SmtpSink['messages'][number];
let counter = 0;

/** A platform of storage, SMTP and voicemail on one NATS, with the domains' transcription policies. */
function useTranscriptionRig(engineEnv: () => Record<string, string>) {
  const rig = {} as {
    nats: NatsServer;
    smtp: SmtpSink;
    storage: RunningServiceProcess;
    voicemail: RunningServiceProcess;
    nc: NatsConnection;
    staging: StagingBucket;
    dir: Awaited<ReturnType<typeof tempDir>>;
  };
  before(async () => {
    rig.nats = await startNats();
    rig.smtp = await startSmtp();
    rig.dir = await tempDir('transcription');
    await writeFile(
      join(rig.dir.path, 'domains.json'),
      JSON.stringify({
        'wait.example': { transcription: 'wait', transcriptionWaitMs: 60_000 },
        'on.example': { transcription: 'on' },
        'hurry.example': { transcription: 'wait', transcriptionWaitMs: 1_500 },
      }),
    );
    rig.storage = await startService('storage', { NATS_URL: rig.nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: join(rig.dir.path, 'storage') });
    rig.voicemail = await startService('voicemail', {
      NATS_URL: rig.nats.url,
      ...rig.smtp.env,
      VM_DOMAINS_FILE: join(rig.dir.path, 'domains.json'),
      MAIL_RETRY_DELAYS: '300ms,300ms',
      ...engineEnv(),
    });
    rig.nc = await rig.nats.connect();
    rig.staging = await stagingBucket(rig.nc);
  });
  beforeEach(() => {
    rig.smtp.messages.length = 0;
  });
  after(async () => {
    await rig.nc?.close();
    await rig.voicemail?.stop();
    await rig.storage?.stop();
    await rig.smtp?.close();
    await rig.nats?.close();
    await rig.dir?.remove();
  });

  const helpers = {
    rig,
    /** Hands over a spoken message for a fresh mailbox of `did`. */
    async leave(
      did: string,
      mode: 'box' | 'voicemail' | 'both',
      options: { language?: string; wav?: Buffer } = {},
    ): Promise<{ mailbox: Mailbox; depositId: string; wav: Buffer }> {
      const uid = `user${++counter}`;
      const depositId = `tr-${process.pid}-${counter}`;
      const wav = options.wav ?? spokenWav(SAID);
      const audio = await stageAudio(
        rig.staging,
        depositId,
        (async function* () {
          yield wav;
        })(),
      );
      const deposit: DepositInput = {
        depositId,
        mode,
        user: uid,
        domain: did,
        uid,
        did,
        sender: 'sip:john@garage.example',
        recordedAt: new Date().toISOString(),
        durationMs: Math.round(((wav.length - 44) / 16_000) * 1000),
        codec: 'PCMU',
        audio,
        ...(options.language ? { language: options.language } : { language: 'en' }),
        ...(mode === 'box' ? {} : { email: `${uid}@mymail.org` }),
      };
      await publishDeposit(jetstream(rig.nc), deposit);
      return { mailbox: { did, uid }, depositId, wav };
    },
    /** The one mail to the mailbox's owner, when it has come. */
    async mailFor(mailbox: Mailbox, timeoutMs = 30_000): Promise<ParsedMail> {
      const to = `${mailbox.uid}@mymail.org`;
      const mine = () => rig.smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.text === to);
      await waitFor(() => mine().length > 0, timeoutMs, `the mail to ${to}`);
      return mine()[0]!;
    },
    mailsTo: (mailbox: Mailbox) => rig.smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.text === `${mailbox.uid}@mymail.org`).length,
    async stored(mailbox: Mailbox): Promise<MessageInfo> {
      let message: MessageInfo | undefined;
      await waitFor(
        async () => (message = (await request(rig.nc, StorageApi.listMailbox, { mailbox })).messages[0]) !== undefined,
        15_000,
        'the stored message',
      );
      return message!;
    },
    /** The message's transcript, once the transcriber has settled it. */
    async transcriptOf(mailbox: Mailbox, timeoutMs = 30_000): Promise<Transcript> {
      const { id } = await helpers.stored(mailbox);
      let transcript: Transcript | undefined;
      await waitFor(
        async () => (transcript = (await request(rig.nc, StorageApi.getMessage, { mailbox, id })).message.transcript) !== undefined,
        timeoutMs,
        'the transcript in the stored message',
      );
      return transcript!;
    },
    async storedAudio(mailbox: Mailbox): Promise<Buffer> {
      const { id } = await helpers.stored(mailbox);
      const parts: Uint8Array[] = [];
      for await (const chunk of readAudio(rig.nc, { kind: 'message', mailbox, id })) parts.push(chunk);
      return Buffer.concat(parts);
    },
    async jobsQueued(): Promise<number> {
      return (await (await jetstreamManager(rig.nc)).streams.info(STREAMS.transcriptions.name)).state.last_seq;
    },
  };
  return helpers;
}

/** A transcript in a few words: `done: <text>` or `none: <reason>`. */
const outcome = (transcript: Transcript) => (transcript.status === 'done' ? `done: ${transcript.text}` : `none: ${transcript.reason}`);

/** The quoted transcript in a mail from the default English template. */
const quoted = (mail: ParsedMail) => /The caller said \(transcribed by machine, so it may be wrong\):\n"(.*)"\n/.exec(mail.text ?? '')?.[1];

describe("transcription with Debian's pocketsphinx", () => {
  const t = useTranscriptionRig(() => ({}));

  it("mails the engine's text when the domain's mail waits for it, and keeps it in the message", async () => {
    const { mailbox } = await t.leave('wait.example', 'both');
    const mail = await t.mailFor(mailbox);
    const transcript = await t.transcriptOf(mailbox);
    assert.ok(transcript.status === 'done', outcome(transcript));
    assert.equal(transcript.engine, 'pocketsphinx');
    assert.equal(transcript.language, 'en');
    assert.equal(quoted(mail), transcript.text, `the mail carries what the engine heard:\n${mail.text}`);
    // What it heard is the message: a good part of its words (the figure for all the test speech is in BENCHMARKS.md).
    const { rate } = wordErrors(SAID, transcript.text);
    const heard = new Set(wordsOf(transcript.text));
    const keywords = ['car', 'ready', 'pick', 'tomorrow', 'morning', 'call', 'back'].filter((word) => heard.has(word));
    assert.ok(rate < 0.9 && keywords.length >= 3, `"${transcript.text}": word error rate ${rate.toFixed(2)}, key words ${keywords}`);
    assert.equal(mail.attachments.length, 1, 'the recording is attached as ever');
  });

  it('stores the text without holding up the mail when the domain has transcription on (mail does not wait)', async () => {
    const { mailbox } = await t.leave('on.example', 'both');
    const mail = await t.mailFor(mailbox);
    assert.equal(quoted(mail), undefined);
    assert.doesNotMatch(mail.text ?? '', /transcript/i, 'a mail that does not wait reads as it always did');
    const transcript = await t.transcriptOf(mailbox);
    assert.equal(transcript.status, 'done');
  });

  it('hears a mail-only message (nothing stored) for the mail that waits', async () => {
    const { mailbox } = await t.leave('wait.example', 'voicemail');
    const mail = await t.mailFor(mailbox);
    assert.ok((quoted(mail) ?? '').length > 10, mail.text);
    assert.equal(mail.attachments.length, 1);
    assert.deepEqual((await request(t.rig.nc, StorageApi.listMailbox, { mailbox })).messages, []);
  });

  it('skips a language it has no model for, at once: the mail goes, marked "no transcript"', async () => {
    const started = Date.now();
    const { mailbox } = await t.leave('wait.example', 'both', { language: 'german' });
    const mail = await t.mailFor(mailbox);
    assert.ok(Date.now() - started < 20_000, 'not held for the 60 s the mail could wait');
    assert.match(mail.text ?? '', /Eine Abschrift dieser Nachricht gibt es nicht\./, 'the German template, marked');
    assert.equal(outcome(await t.transcriptOf(mailbox)), 'none: language-not-supported');
  });

  it('transcribes nothing where transcription is off (the default)', async () => {
    const jobs = await t.jobsQueued();
    const { mailbox } = await t.leave('example.org', 'both');
    await t.mailFor(mailbox);
    const message = await t.stored(mailbox);
    await sleep(500);
    assert.equal(await t.jobsQueued(), jobs, 'no transcription job was queued');
    assert.equal((await request(t.rig.nc, StorageApi.getMessage, { mailbox, id: message.id })).message.transcript, undefined);
  });
});

describe('transcription through an OpenAI-compatible /v1/audio/transcriptions endpoint', () => {
  let server: FakeTranscriptionServer;
  const KEY = 'sk-test-0123456789abcdef';
  let keyDir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    server = await startFakeTranscriptionServer({ key: KEY });
    keyDir = await tempDir('transcribe-key');
    await writeFile(join(keyDir.path, 'key'), `${KEY}\n`);
  });
  after(async () => {
    await server?.close();
    await keyDir?.remove();
  });
  const t = useTranscriptionRig(() => ({
    TRANSCRIBE_ENGINE: 'openai',
    TRANSCRIBE_URL: server.url,
    TRANSCRIBE_MODEL: 'whisper-large-v3',
    TRANSCRIBE_KEY_FILE: join(keyDir.path, 'key'),
    TRANSCRIBE_LANGUAGES: 'en,de',
    TRANSCRIBE_TIMEOUT_MS: '6000',
  }));
  beforeEach(() => {
    server.delayMs = 0;
    server.answer = () => ({ status: 200, body: { text: 'Hello, this is John from the garage.\nPlease call me back.' } });
  });

  it('sends the message as the API asks and mails the text it answers', async () => {
    const { mailbox, wav } = await t.leave('wait.example', 'both', { language: 'de-AT' });
    const mail = await t.mailFor(mailbox);
    assert.match(mail.text ?? '', /„Hello, this is John from the garage\. Please call me back\.“/, 'one line, in the German template');
    const seen = server.requests.at(-1)!;
    assert.equal(seen.model, 'whisper-large-v3');
    assert.equal(seen.language, 'de', "the message's language, as ISO 639-1");
    assert.equal(seen.responseFormat, 'json');
    assert.equal(seen.file.type, 'audio/wav');
    assert.ok(seen.file.bytes.equals(wav), "the message's audio, as stored");
    assert.ok(seen.file.bytes.equals(await t.storedAudio(mailbox)));
    const transcript = await t.transcriptOf(mailbox);
    assert.equal(outcome(transcript), 'done: Hello, this is John from the garage. Please call me back.');
    assert.deepEqual(transcript.status === 'done' && [transcript.language, transcript.engine], ['de', 'whisper-large-v3']);
  });

  it('lets the mail go at its deadline when the engine is slow, and stores the text when it comes', async () => {
    server.delayMs = 4_000;
    server.answer = () => ({ status: 200, body: { text: 'sorry I am late' } });
    const started = Date.now();
    const { mailbox } = await t.leave('hurry.example', 'both');
    const mail = await t.mailFor(mailbox);
    const waited = Date.now() - started;
    assert.ok(waited >= 1_400 && waited < 3_900, `the mail waited ${waited} ms: its 1.5 s, not the engine's 4 s`);
    assert.match(mail.text ?? '', /There is no transcript of this message\./);
    assert.equal(quoted(mail), undefined);
    assert.equal(outcome(await t.transcriptOf(mailbox)), 'done: sorry I am late');
    await sleep(1_000);
    assert.equal(t.mailsTo(mailbox), 1, 'one mail, not a second with the text');
  });

  it('gives up on an engine that does not answer within TRANSCRIBE_TIMEOUT_MS: no transcript, message and mail kept', async () => {
    server.answer = () => ({ hang: true });
    const { mailbox } = await t.leave('wait.example', 'both');
    const mail = await t.mailFor(mailbox, 20_000);
    assert.match(mail.text ?? '', /There is no transcript of this message\./);
    assert.equal(outcome(await t.transcriptOf(mailbox)), 'none: timed-out');
  });

  it('marks "no transcript" at once when the engine answers with an error', async () => {
    server.answer = () => ({ status: 500, body: { error: { message: 'model not loaded', type: 'server_error' } } });
    const started = Date.now();
    const { mailbox } = await t.leave('wait.example', 'both');
    const mail = await t.mailFor(mailbox);
    assert.ok(Date.now() - started < 15_000, 'not held for the 60 s the mail could wait');
    assert.match(mail.text ?? '', /There is no transcript of this message\./);
    assert.equal(outcome(await t.transcriptOf(mailbox)), 'none: engine-failed');
  });

  it('still stores and mails every message with the engine stopped', async () => {
    await server.close();
    const started = Date.now();
    const waiting = await t.leave('wait.example', 'both');
    const on = await t.leave('on.example', 'box');
    const mail = await t.mailFor(waiting.mailbox);
    assert.ok(Date.now() - started < 15_000, 'a refused connection does not hold the mail for its 60 s');
    assert.match(mail.text ?? '', /There is no transcript of this message\./);
    assert.equal(mail.attachments.length, 1);
    assert.equal(outcome(await t.transcriptOf(waiting.mailbox)), 'none: engine-failed');
    assert.equal(outcome(await t.transcriptOf(on.mailbox)), 'none: engine-failed');
    assert.equal((await t.stored(on.mailbox)).durationMs > 5_000, true, 'the message is stored whole');
  });
});
