/**
 * From finished recording to message: the voicemail service takes deposits from JetStream and
 * stores and/or mails them — through a storage outage, a kill of the voicemail service and a
 * duplicate hand-over, exactly once. Real nats-server, storage service, SMTP server.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  DepositOutcomeSchema,
  publishDeposit,
  readAudio,
  request,
  stageAudio,
  stagingBucket,
  StorageApi,
  SUBJECTS,
  type DepositInput,
  type DepositOutcome,
  type StagingBucket,
  isStaged,
  STREAMS,
} from '@sipvm/contracts';
import {
  smallWav,
  startNats,
  startService,
  startSmtp,
  tempDir,
  waitFor,
  wavHeader,
  type NatsServer,
  type RunningServiceProcess,
  type SmtpSink,
} from '@sipvm/harness';

let n = 0;
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const silentWav = (seconds: number) => Buffer.concat([wavHeader(8000 * 2 * seconds), Buffer.alloc(8000 * 2 * seconds)]);

describe('deposits: recordings become messages', () => {
  let nats: NatsServer;
  let smtp: SmtpSink;
  let storageDir: Awaited<ReturnType<typeof tempDir>>;
  let storage: RunningServiceProcess;
  let voicemail: RunningServiceProcess;
  let nc: NatsConnection;
  let staging: StagingBucket;
  let vmEnv: Record<string, string>;
  let storageEnv: Record<string, string>;
  const outcomes: DepositOutcome[] = [];

  before(async () => {
    nats = await startNats();
    smtp = await startSmtp();
    storageDir = await tempDir('storage');
    storageEnv = { NATS_URL: nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: storageDir.path };
    storage = await startService('storage', storageEnv);
    vmEnv = { NATS_URL: nats.url, ...smtp.env, VM_MIN_MESSAGE_MS: '3000', VM_DEPOSIT_RETRY_DELAYS: '300ms', MAIL_RETRY_DELAYS: '300ms,300ms' };
    voicemail = await startService('voicemail', vmEnv);
    nc = await nats.connect();
    staging = await stagingBucket(nc);
    nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_e, msg) => {
        outcomes.push(DepositOutcomeSchema.parse(msg.json()));
      },
    });
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });
  after(async () => {
    await nc?.close();
    await voicemail?.stop();
    await storage?.stop();
    await smtp?.close();
    await nats?.close();
    await storageDir?.remove();
  });

  const deposit = async (mode: 'box' | 'voicemail' | 'both', wav: Uint8Array, uid: string): Promise<DepositInput> => {
    const depositId = `dep-${process.pid}-${n++}`;
    const audio = await stageAudio(
      staging,
      depositId,
      (async function* () {
        yield wav;
      })(),
    );
    return {
      depositId,
      mode,
      user: uid,
      domain: 'example.org',
      uid,
      did: 'example.org',
      sender: 'sip:bob@example.net',
      recordedAt: new Date().toISOString(),
      durationMs: 4000,
      codec: 'PCMU',
      audio,
      ...(mode === 'box' ? {} : { email: `${uid}@mymail.org` }),
    };
  };
  const stillStaged = (name: string) => isStaged(staging, name);
  /** Mail jobs ever queued (the outbox stream's last sequence): a deposit that mails nothing leaves it as it was. */
  const mailJobsQueued = async () => (await jetstreamManager(nc).then((jsm) => jsm.streams.info(STREAMS.mail.name))).state.last_seq;
  /** Deposits and mail jobs all done: nothing more can be stored or sent. */
  const allDone = async () => {
    const jsm = await jetstreamManager(nc);
    for (const stream of [STREAMS.deposits.name, STREAMS.mail.name]) if ((await jsm.streams.info(stream)).state.messages > 0) return false;
    return true;
  };
  const outcomeOf = async (depositId: string) => {
    await waitFor(() => outcomes.some((o) => o.depositId === depositId), 15_000, `the outcome of ${depositId}`);
    return outcomes.find((o) => o.depositId === depositId);
  };
  const mailboxOf = async (uid: string) => (await request(nc, StorageApi.listMailbox, { mailbox: { did: 'example.org', uid } })).messages;
  const audioOf = async (uid: string, id: string) => {
    const parts: Uint8Array[] = [];
    for await (const chunk of readAudio(nc, { kind: 'message', mailbox: { did: 'example.org', uid }, id })) parts.push(chunk);
    return Buffer.concat(parts);
  };

  it('box: stores the message with its audio and mails nothing', async () => {
    const wav = smallWav(4, 1);
    const d = await deposit('box', wav, 'boxonly');
    const mailsBefore = await mailJobsQueued();
    await publishDeposit(jetstream(nc), d);
    const outcome = await outcomeOf(d.depositId);
    assert.equal(outcome?.outcome, 'stored');
    const [message, ...rest] = await mailboxOf('boxonly');
    assert.equal(rest.length, 0);
    assert.equal(message?.sender, 'sip:bob@example.net');
    assert.equal(message?.durationMs, 4000, 'duration measured from the audio');
    assert.equal(sha(await audioOf('boxonly', message?.id ?? '')), sha(wav));
    // The outcome comes after the deposit was finished: had it queued a mail, the outbox would show it.
    assert.equal(await mailJobsQueued(), mailsBefore, 'no mail job was queued');
    assert.equal(smtp.messages.length, 0);
    assert.equal(await stillStaged(d.audio.name), false, 'the staged audio was cleaned up');
  });

  it('voicemail: mails the recording and stores nothing', async () => {
    const wav = smallWav(4, 2);
    const d = await deposit('voicemail', wav, 'mailonly');
    await publishDeposit(jetstream(nc), d);
    assert.equal((await outcomeOf(d.depositId))?.outcome, 'mailed');
    const [mail] = await smtp.waitForMessages(1);
    assert.equal(sha(mail?.attachments[0]?.content ?? Buffer.alloc(0)), sha(wav));
    assert.deepEqual(await mailboxOf('mailonly'), []);
    await waitFor(async () => !(await stillStaged(d.audio.name)), 5_000, 'the mail sender to clean up the staged audio');
  });

  it('both: stores and mails, the mail naming the stored message', async () => {
    const wav = smallWav(4, 3);
    const d = await deposit('both', wav, 'both');
    await publishDeposit(jetstream(nc), d);
    const outcome = await outcomeOf(d.depositId);
    assert.equal(outcome?.outcome, 'stored-and-mailed');
    const [mail] = await smtp.waitForMessages(1);
    const [message] = await mailboxOf('both');
    assert.equal(outcome?.messageId, message?.id);
    assert.equal(mail?.headers.get('x-voicemail-message-id'), message?.id);
    assert.equal(sha(mail?.attachments[0]?.content ?? Buffer.alloc(0)), sha(wav));
  });

  it('discards a 2-second message when the minimum is 3 seconds, and a silent one', async () => {
    const short = await deposit('both', smallWav(2, 4), 'discards');
    const silent = await deposit('both', silentWav(5), 'discards');
    const mailsBefore = await mailJobsQueued();
    await publishDeposit(jetstream(nc), short);
    await publishDeposit(jetstream(nc), silent);
    assert.equal((await outcomeOf(short.depositId))?.outcome, 'discarded-short');
    assert.equal((await outcomeOf(silent.depositId))?.outcome, 'discarded-silent');
    assert.deepEqual(await mailboxOf('discards'), []);
    assert.equal(await mailJobsQueued(), mailsBefore, 'no mail job was queued');
    assert.equal(smtp.messages.length, 0);
  });

  it('keeps a long message whole (10 minutes)', async () => {
    const wav = smallWav(600, 5);
    const d = await deposit('box', wav, 'long');
    await publishDeposit(jetstream(nc), d);
    assert.equal((await outcomeOf(d.depositId))?.outcome, 'stored');
    const [message] = await mailboxOf('long');
    assert.equal(message?.durationMs, 600_000);
    assert.equal(sha(await audioOf('long', message?.id ?? '')), sha(wav));
  });

  it('stores and mails exactly once across a storage outage, a killed voicemail service and a repeated hand-over', async () => {
    await storage.stop();
    const wav = smallWav(4, 6);
    const d = await deposit('both', wav, 'crash');
    const retries = await voicemail.metric('sipvm_deposit_retries_total');
    await publishDeposit(jetstream(nc), d);
    await waitFor(
      async () => (await voicemail.metric('sipvm_deposit_retries_total')) > retries,
      10_000,
      'the voicemail service to retry against the missing storage service',
    );
    await voicemail.kill();
    assert.equal((await publishDeposit(jetstream(nc), d)).duplicate, true, 'the repeated hand-over is recognised');
    storage = await startService('storage', storageEnv);
    voicemail = await startService('voicemail', vmEnv);
    assert.equal((await outcomeOf(d.depositId))?.outcome, 'stored-and-mailed');
    await smtp.waitForMessages(1);
    await waitFor(allDone, 15_000, 'every deposit and mail job to be done');
    assert.equal((await mailboxOf('crash')).length, 1, 'stored once');
    assert.equal(smtp.messages.length, 1, 'mailed once');
    assert.equal(sha(await audioOf('crash', (await mailboxOf('crash'))[0]?.id ?? '')), sha(wav));
  });
});
