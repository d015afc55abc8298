/**
 * Notices about a mailbox (contracts' notices.ts: almost full, full, messages about to expire) →
 * webhook deliveries, one per target configured for the mailbox's domain, on VM_WEBHOOKS like a new
 * message's (webhooks/fanout.ts). A durable consumer of its own on VM_MAILBOX_NOTICES, shared by
 * the instances; a notice taken twice queues nothing twice (the delivery id is the notice's).
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import {
  decodeJson,
  encodeJson,
  ensureStreams,
  MailboxNoticeSchema,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type MailboxNotice,
  type NoticeWebhookBody,
  type WebhookDelivery,
} from '@sipvm/contracts';
import { startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import type { WebhookTargets } from './targets.js';

export const NOTICE_FANOUT_CONSUMER = 'web-notice-fanout';
const RETRY_MS = 5_000;

export async function startNoticeFanout(options: {
  js: JetStreamClient;
  jsm: JetStreamManager;
  targets: WebhookTargets;
  log: Logger;
}): Promise<{ stop(): Promise<void> }> {
  await ensureStreams(options.jsm, ['mailboxNotices', 'webhooks']);
  return startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.mailboxNotices.name,
    consumer: NOTICE_FANOUT_CONSUMER,
    filterSubject: SUBJECTS.mailbox.notice,
    concurrency: 2,
    ackWaitMs: 60_000,
    deliverNewOnly: true,
    log: options.log,
    handle: (msg) => fanOutNotice(msg, options),
  });
}

async function fanOutNotice(msg: JsMsg, options: { js: JetStreamClient; targets: WebhookTargets; log: Logger }): Promise<WorkOutcome> {
  let notice: MailboxNotice;
  try {
    notice = decodeJson(MailboxNoticeSchema, msg.data, 'mailbox notice');
  } catch (error) {
    const reason = toServiceError(error).message;
    options.log.error({ err: reason, seq: msg.seq }, 'mailbox notice is malformed; no webhook for it');
    return { kind: 'drop', reason };
  }
  const targets = options.targets.forDomain(notice.mailbox.did);
  try {
    for (const target of targets) {
      const delivery: WebhookDelivery = { target: target.name, body: noticeBody(notice, target.name), queuedAt: new Date().toISOString() };
      await options.js.publish(SUBJECTS.webhook.deliver, encodeJson(delivery), { msgID: delivery.body.deliveryId });
    }
  } catch (error) {
    options.log.warn({ err: toServiceError(error).message, noticeId: notice.noticeId }, 'cannot queue notice webhooks; will retry');
    return { kind: 'retry', delayMs: RETRY_MS };
  }
  if (targets.length > 0) options.log.info({ noticeId: notice.noticeId, kind: notice.kind, targets: targets.map((t) => t.name) }, 'notice webhooks queued');
  return { kind: 'done' };
}

function noticeBody(notice: MailboxNotice, target: string): NoticeWebhookBody {
  const base = {
    deliveryId: `${notice.noticeId}-${target}`.slice(0, 160),
    eventId: notice.noticeId,
    occurredAt: notice.at,
    mailbox: notice.mailbox,
    counts: notice.counts,
  };
  switch (notice.kind) {
    case 'mailbox-almost-full':
      return { type: 'mailbox.almost-full', ...base, limit: notice.limit };
    case 'mailbox-full':
      return { type: 'mailbox.full', ...base, limit: notice.limit };
    case 'messages-expiring':
      return { type: 'messages.expiring', ...base, expiring: notice.expiring, expiresAt: notice.expiresAt };
  }
}
