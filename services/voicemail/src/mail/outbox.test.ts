/**
 * The mail outbox end to end: a real nats-server, a real SMTP server, and the voicemail service
 * as a process. Mails arrive with the recording, once, through outages, restarts and kills;
 * what cannot be delivered is reported, not dropped.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIL_ACK_WAIT_MS } from './outbox.js';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  enqueueMail,
  MailFailedEventSchema,
  stageAudio,
  stagingBucket,
  STREAMS,
  type MailFailedEvent,
  type MailJobInput,
  type StagingBucket,
} from '@sipvm/contracts';
import { REPO_ROOT, smallWav, startNats, startService, startSmtp, waitFor, type NatsServer, type RunningServiceProcess, type SmtpSink } from '@sipvm/harness';

const RETRIES = '400ms,400ms,400ms,400ms,400ms';
let counter = 0;

async function stage(staging: StagingBucket, wav: Uint8Array) {
  return stageAudio(
    staging,
    `mail-test-${process.pid}-${counter++}`,
    (async function* () {
      yield wav;
    })(),
  );
}

function job(overrides: Partial<MailJobInput> = {}): MailJobInput {
  return {
    mailId: `mail-${process.pid}-${Date.now()}-${counter++}`,
    to: 'alice@mymail.org',
    user: 'alice',
    domain: 'example.org',
    uid: 'alice',
    did: 'example.org',
    sender: 'sip:+4930123@carrier.example',
    recordedAt: '2026-11-23T08:18:47.000Z',
    durationMs: 83_000,
    enqueuedAt: new Date().toISOString(),
    ...overrides,
  };
}

async function failedEvents(nc: NatsConnection): Promise<MailFailedEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(STREAMS.mailFailed.name).catch(() => null);
  const events: MailFailedEvent[] = [];
  if (!info || info.state.messages === 0) return events;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const stored = await jsm.streams.getMessage(STREAMS.mailFailed.name, { seq }).catch(() => null);
    if (stored) events.push(MailFailedEventSchema.parse(stored.json()));
  }
  return events;
}

/** Whether the outbox holds no job: every mail it had was sent or reported (and acknowledged). */
async function outboxEmpty(nc: NatsConnection): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(STREAMS.mail.name)).state.messages === 0;
}

describe('mail outbox', () => {
  let nats: NatsServer;
  let smtp: SmtpSink;
  let sender: RunningServiceProcess;
  let nc: NatsConnection;
  let staging: StagingBucket;
  let env: Record<string, string>;

  before(async () => {
    nats = await startNats();
    smtp = await startSmtp();
    const templates = await mkdtemp(join(tmpdir(), 'sipvm-mail-'));
    await writeFile(
      join(templates, 'example.org_de.template'),
      'subject: Neue Sprachnachricht von %from_user% (%duration%)\nfrom: Sprachbox <sprachbox@example.org>\nto: %email%\n\nHallo %user%, die Nachricht ist angehängt. Kunde: %company%\n',
    );
    env = {
      NATS_URL: nats.url,
      ...smtp.env,
      MAIL_RETRY_DELAYS: RETRIES,
      MAIL_TEMPLATE_DIR: templates,
      MAIL_EXTRA_VARIABLES: 'company',
      MAIL_TIME_ZONE: 'Europe/Berlin',
    };
    sender = await startService('voicemail', env);
    nc = await nats.connect();
    staging = await stagingBucket(nc);
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });
  after(async () => {
    await nc?.close();
    await sender?.stop();
    await smtp?.close();
    await nats?.close();
  });

  it('mails the recording as a WAV attachment, from the domain and language template, with proper MIME', async () => {
    const wav = smallWav(2, 3);
    const mail = job({
      language: 'de',
      attachment: await stage(staging, wav),
      extra: { company: 'Müller & Söhne' },
      messageId: '20261123T081847000Z-0123456789ab',
    });
    await enqueueMail(jetstream(nc), mail);
    const [received] = await smtp.waitForMessages(1);
    assert.ok(received);
    assert.equal(received.subject, 'Neue Sprachnachricht von +4930123 (1:23)');
    assert.deepEqual(
      received.from?.value.map((a) => [a.name, a.address]),
      [['Sprachbox', 'sprachbox@example.org']],
    );
    assert.equal((Array.isArray(received.to) ? received.to[0] : received.to)?.text, 'alice@mymail.org');
    assert.equal(received.text?.trim(), 'Hallo alice, die Nachricht ist angehängt. Kunde: Müller & Söhne');
    assert.equal(received.messageId, `<${mail.mailId}@example.org>`);
    assert.equal(received.date?.toISOString(), '2026-11-23T08:18:47.000Z');
    assert.match(String(received.headers.get('content-type') && (received.headers.get('content-type') as { value: string }).value), /multipart\/mixed/);
    assert.equal(received.attachments.length, 1);
    const [attachment] = received.attachments;
    assert.equal(attachment?.contentType, 'audio/wav');
    assert.equal(attachment?.filename, 'voicemail-20261123T081847000Z-0123456789ab.wav');
    assert.ok(attachment?.content.equals(Buffer.from(wav)), 'the attached audio differs from the recording');
  });

  it('queues a mail handed over twice only once', async () => {
    const mail = job();
    const first = await enqueueMail(jetstream(nc), mail);
    const second = await enqueueMail(jetstream(nc), mail);
    assert.deepEqual([first.duplicate, second.duplicate], [false, true]);
    await smtp.waitForMessages(1);
    // Once the outbox is empty nothing more can be sent: then count.
    await waitFor(() => outboxEmpty(nc), 10_000, 'the outbox to be empty');
    assert.equal(smtp.messages.length, 1);
  });

  it('delivers exactly once after an SMTP outage', async () => {
    await smtp.stop();
    const mail = job();
    const retried = await sender.metric('sipvm_mail_retries_total');
    await enqueueMail(jetstream(nc), mail);
    await waitFor(async () => (await sender.metric('sipvm_mail_retries_total')) >= retried + 2, 10_000, 'two attempts to fail');
    await smtp.start();
    const [received] = await smtp.waitForMessages(1, 10_000);
    assert.equal(received?.messageId, `<${mail.mailId}@example.org>`);
    await waitFor(() => outboxEmpty(nc), 10_000, 'the outbox to be empty');
    assert.equal(smtp.messages.length, 1, 'mailed more than once');
    assert.ok(!(await failedEvents(nc)).some((e) => e.mailId === mail.mailId));
  });

  it('reports a mail whose retry budget is spent, and does not send it later', async () => {
    await smtp.stop();
    const mail = job();
    await enqueueMail(jetstream(nc), mail);
    await waitFor(async () => (await failedEvents(nc)).some((e) => e.mailId === mail.mailId), 15_000, 'the failure report');
    const report = (await failedEvents(nc)).find((e) => e.mailId === mail.mailId);
    assert.equal(report?.outcome, 'budget-spent');
    assert.equal(report?.attempts, 6, 'one attempt plus five retries');
    assert.match(report?.reason ?? '', /ECONNECTION|ECONNREFUSED/);
    await smtp.start();
    // Reported means removed from the outbox: once it is empty, nothing of it can be sent later.
    await waitFor(() => outboxEmpty(nc), 10_000, 'the outbox to be empty');
    assert.equal(smtp.messages.length, 0, 'a reported mail was sent after all');
  });

  it('reports a recipient the server refuses (550) at once, without retrying', async () => {
    smtp.rejectRecipients.add('nobody@mymail.org');
    const mail = job({ to: 'nobody@mymail.org' });
    await enqueueMail(jetstream(nc), mail);
    await waitFor(async () => (await failedEvents(nc)).some((e) => e.mailId === mail.mailId), 10_000, 'the rejection report');
    const report = (await failedEvents(nc)).find((e) => e.mailId === mail.mailId);
    assert.equal(report?.outcome, 'rejected');
    assert.equal(report?.attempts, 1);
    assert.match(report?.reason ?? '', /550/);
  });

  it('loses and duplicates nothing when the sender is killed and restarted', async () => {
    await smtp.stop();
    const mail = job({ attachment: await stage(staging, smallWav(1, 9)) });
    const retried = await sender.metric('sipvm_mail_retries_total');
    await enqueueMail(jetstream(nc), mail);
    await waitFor(async () => (await sender.metric('sipvm_mail_retries_total')) > retried, 10_000, 'an attempt to fail: it is retrying now');
    await sender.kill();
    const queuedWhileDown = job();
    await enqueueMail(jetstream(nc), queuedWhileDown);
    await smtp.start();
    sender = await startService('voicemail', env);
    // A job the killed sender held (an attempt in flight, or a batch it had pulled) comes back once
    // its ack wait has passed: that is the promise, not 15 s.
    await smtp.waitForMessages(2, MAIL_ACK_WAIT_MS + 15_000);
    await waitFor(() => outboxEmpty(nc), 10_000, 'the outbox to be empty');
    assert.deepEqual(smtp.messages.map((m) => m.messageId).sort(), [`<${mail.mailId}@example.org>`, `<${queuedWhileDown.mailId}@example.org>`].sort());
  });
});

describe('mail over STARTTLS with AUTH', () => {
  it('authenticates over TLS and delivers', async () => {
    const nats = await startNats();
    const smtp = await startSmtp({ tls: true, auth: { user: 'vm', password: 's3cret' } });
    const sender = await startService('voicemail', { NATS_URL: nats.url, ...smtp.env });
    const nc = await nats.connect();
    try {
      await enqueueMail(jetstream(nc), job());
      const [received] = await smtp.waitForMessages(1);
      assert.match(received?.subject ?? '', /^Voice message from sip:\+4930123@carrier\.example/);
    } finally {
      await nc.close();
      await sender.stop();
      await smtp.close();
      await nats.close();
    }
  });
});

describe('mail configuration', () => {
  it('stops at start-up (exit 78) on a template with an unknown variable, naming file and variable', async () => {
    const templates = await mkdtemp(join(tmpdir(), 'sipvm-mail-'));
    await writeFile(join(templates, 'example.org.template'), 'subject: for %usr%\nfrom: a@example.org\nto: %email%\n\nhello\n');
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'services/voicemail/dist/main.js')], {
      env: { PATH: process.env.PATH ?? '', MAIL_TEMPLATE_DIR: templates, NATS_URL: 'nats://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /example\.org\.template: unknown variable %usr%/);
  });

  it('refuses half-configured SMTP AUTH and impossible retry budgets', () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'services/voicemail/dist/main.js')], {
      env: { PATH: process.env.PATH ?? '', SMTP_USER: 'vm', MAIL_RETRY_DELAYS: '3d,3d,3d', MAIL_TIME_ZONE: 'Mars/Olympus' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /MAIL_RETRY_DELAYS \("3d,3d,3d"\): must add up to less than 7 days/);
    assert.match(result.stderr, /MAIL_TIME_ZONE \("Mars\/Olympus"\): must be an IANA time zone/);
  });
});
