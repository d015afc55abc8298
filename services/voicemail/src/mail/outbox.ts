/**
 * The mail sender: a durable JetStream consumer on the outbox (stream VM_MAIL).
 *
 * - A job is acknowledged only after the SMTP server accepted the mail, so a sender that dies
 *   mid-way leaves the job to be delivered again (by itself after a restart, or by another
 *   instance: they share the durable consumer).
 * - Before sending, the sent-ledger (a KV bucket) is checked: a job whose mail was accepted but
 *   whose acknowledgement was lost is not mailed twice.
 * - A failure is retried after the configured delays (across restarts: the delay lives in
 *   JetStream); when they are spent, or when retrying cannot help (a 5xx for the recipient),
 *   the job is reported on VM_MAIL_FAILED, logged and counted — never dropped silently.
 * Sequence: docs/flows/deposit.md
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Transporter } from 'nodemailer';
import { Counter, type Registry } from 'prom-client';
import {
  BUCKETS,
  decodeJson,
  discardStagedAudio,
  encodeJson,
  ensureStreams,
  MailJobSchema,
  openStagedAudio,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type MailFailedEvent,
  type MailJob,
  openKv,
  type StagingBucket,
} from '@sipvm/contracts';
import { callLogger, retryDelay, startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import { noticeTemplate, type TemplateSet } from './template-set.js';
import { renderTemplate } from './template.js';
import { mailVariables } from './variables.js';
import { isPermanentSmtpFailure } from './smtp.js';
import type { TranscriptClaims } from '../transcription/claims.js';

export const MAILER_CONSUMER = 'mailer';
export const SENT_LEDGER_BUCKET = BUCKETS.mailSent;
/** Long enough to outlive every redelivery of a job (its retry budget is below 7 days). */
const SENT_LEDGER_TTL_MS = 8 * 24 * 3600 * 1000;
/** A job not finished in this time is delivered again (a sender that died). */
export const MAIL_ACK_WAIT_MS = 120_000;

export interface OutboxOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  staging: StagingBucket;
  templates: TemplateSet;
  transport: Transporter;
  retryDelaysMs: readonly number[];
  concurrency: number;
  timeZone: string;
  extraKeys: readonly string[];
  /** Who settled each mail that waits for its transcript (transcription/claims.ts). */
  claims: TranscriptClaims;
  log: Logger;
  registry: Registry;
}

export async function startMailOutbox(options: OutboxOptions): Promise<{ stop(): Promise<void> }> {
  const { js, jsm, log } = options;
  await ensureStreams(jsm, ['mail', 'mailFailed']);
  const ledger = await openKv(options.nc, SENT_LEDGER_BUCKET, { ttl: SENT_LEDGER_TTL_MS });
  const metrics: Metrics = {
    sent: new Counter({ name: 'sipvm_mail_sent_total', help: 'Mails accepted by the SMTP server', registers: [options.registry] }),
    retried: new Counter({ name: 'sipvm_mail_retries_total', help: 'Delivery attempts that failed and will be retried', registers: [options.registry] }),
    failed: new Counter({ name: 'sipvm_mail_failed_total', help: 'Mails reported undeliverable', labelNames: ['outcome'], registers: [options.registry] }),
  };
  const worker = await startDurableWorker({
    js,
    jsm,
    stream: STREAMS.mail.name,
    consumer: MAILER_CONSUMER,
    filterSubject: SUBJECTS.mail.send,
    concurrency: options.concurrency,
    ackWaitMs: MAIL_ACK_WAIT_MS,
    log,
    handle: (msg) => deliver(msg, options, ledger, metrics),
  });
  log.info({ retries: options.retryDelaysMs.length, concurrency: options.concurrency }, 'mail outbox started');
  return worker;
}

type Metrics = { sent: Counter; retried: Counter; failed: Counter<'outcome'> };

async function deliver(msg: JsMsg, options: OutboxOptions, ledger: KV, metrics: Metrics): Promise<WorkOutcome> {
  let job: MailJob;
  try {
    job = decodeJson(MailJobSchema, msg.data, 'mail job');
  } catch (error) {
    const reason = toServiceError(error).message;
    options.log.error({ err: reason, seq: msg.seq }, 'mail job is malformed; removed');
    metrics.failed.inc({ outcome: 'rejected' });
    return { kind: 'drop', reason };
  }
  const log = callLogger(options.log, job.mailId).child({ mailId: job.mailId, to: job.to });
  // A mail that waited for its transcript was first delivered only to be told to wait: not an attempt.
  const attempt = job.awaitTranscriptUntil !== undefined ? Math.max(1, msg.info.deliveryCount - 1) : msg.info.deliveryCount;

  if (job.awaitTranscriptUntil !== undefined) {
    const waitMs = Date.parse(job.awaitTranscriptUntil) - Date.now();
    if (waitMs > 0) return { kind: 'retry', delayMs: waitMs };
    let held;
    try {
      held = await options.claims.claim(job.mailId, { by: 'deadline' });
    } catch (error) {
      log.warn({ err: describe(error) }, 'cannot settle the waiting mail now; will retry');
      return { kind: 'retry', delayMs: 5_000 };
    }
    if (held.by === 'transcriber') {
      // Its twin, queued by the transcriber with the transcript, is the one that goes (and owns the attachment).
      log.info('the transcript came in time; the mail goes with it');
      return { kind: 'done' };
    }
  }

  if (await alreadySent(ledger, job.mailId)) {
    log.info('mail was already accepted by SMTP; not sending it again');
    await discardAttachment(options, job, log);
    return { kind: 'done' };
  }
  try {
    const info = await send(job, options);
    await ledger.put(job.mailId, encodeJson({ at: new Date().toISOString(), response: info }));
    metrics.sent.inc();
    log.info({ attempt, smtp: info }, 'mail sent');
    await discardAttachment(options, job, log);
    return { kind: 'done' };
  } catch (error) {
    const reason = describe(error);
    if (isPermanentSmtpFailure(error) || isUnsendable(error)) {
      log.error({ attempt, reason }, 'mail rejected; reported as undeliverable');
      return report(options, metrics, attempt, job, 'rejected', reason, log);
    }
    if (attempt > options.retryDelaysMs.length) {
      log.error({ attempt, reason }, 'mail retry budget spent; reported as undeliverable');
      return report(options, metrics, attempt, job, 'budget-spent', reason, log);
    }
    const delayMs = retryDelay(options.retryDelaysMs, attempt);
    log.warn({ attempt, retryInMs: delayMs, reason }, 'mail not sent; will retry');
    metrics.retried.inc();
    return { kind: 'retry', delayMs };
  }
}

async function send(job: MailJob, options: OutboxOptions): Promise<string> {
  const template = options.templates.select(job.did, job.language, job.notice ? noticeTemplate(job.notice.kind) : undefined);
  const mail = renderTemplate(template, mailVariables(job, { timeZone: options.timeZone, extraKeys: options.extraKeys }));
  const fromDomain = /@([^>\s]+)>?\s*$/.exec(mail.from)?.[1] ?? 'sipvm.invalid';
  const attachment = job.attachment
    ? [
        {
          filename: `voicemail-${job.messageId ?? job.mailId}.wav`,
          contentType: 'audio/wav',
          content: Readable.fromWeb((await openStagedAudio(options.staging, job.attachment)) as NodeReadableStream<Uint8Array>),
        },
      ]
    : [];
  const result = await options.transport.sendMail({
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    ...(mail.html !== undefined ? { html: mail.html } : {}),
    // An urgent message is marked for mail programs too, whatever the template says.
    headers: job.urgent ? [...mail.headers, { key: 'Importance', value: 'high' }, { key: 'X-Priority', value: '1 (Highest)' }] : mail.headers,
    // Stable across retries, so a duplicate (should one ever slip through) is recognisable.
    messageId: `<${job.mailId}@${fromDomain}>`,
    date: new Date(job.recordedAt),
    attachments: attachment,
  });
  return String(result.response ?? 'accepted');
}

async function report(
  options: OutboxOptions,
  metrics: Metrics,
  attempts: number,
  job: MailJob,
  outcome: MailFailedEvent['outcome'],
  reason: string,
  log: Logger,
): Promise<WorkOutcome> {
  const event: MailFailedEvent = {
    mailId: job.mailId,
    to: job.to,
    did: job.did,
    uid: job.uid,
    attempts,
    reason: reason.slice(0, 2048),
    outcome,
    at: new Date().toISOString(),
  };
  try {
    await options.js.publish(SUBJECTS.mail.failed, encodeJson(event), { msgID: `failed-${job.mailId}` });
  } catch (error) {
    // Keep the job: it is reported later rather than lost unreported.
    log.error({ err: describe(error) }, 'cannot report failed mail; keeping it');
    return { kind: 'retry', delayMs: 30_000 };
  }
  metrics.failed.inc({ outcome });
  await discardAttachment(options, job, log);
  return { kind: 'drop', reason };
}

/** The mail sender owns a queued mail's staged audio: once the mail is settled, it goes. */
async function discardAttachment(options: OutboxOptions, job: MailJob, log: Logger): Promise<void> {
  if (!job.attachment) return;
  await discardStagedAudio(options.staging, job.attachment).catch((error: unknown) =>
    log.warn({ err: describe(error) }, 'cannot remove the staged attachment; it expires by itself'),
  );
}

async function alreadySent(ledger: KV, mailId: string): Promise<boolean> {
  const entry = await ledger.get(mailId);
  return entry !== null && entry.operation === 'PUT';
}

/** Failures of the job itself (its audio expired or broken): retrying cannot help. */
function isUnsendable(error: unknown): boolean {
  const failure = toServiceError(error);
  return failure.kind === 'bad-request' || (error instanceof Error && error.name === 'TemplateError');
}

function describe(error: unknown): string {
  const { response, code, message } = error as { response?: string; code?: string; message?: string };
  return [code, response ?? message].filter(Boolean).join(': ') || String(error);
}
