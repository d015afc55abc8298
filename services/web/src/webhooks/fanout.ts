/**
 * Mailbox events → webhook deliveries. One durable consumer of VM_MAILBOX, shared by every
 * instance of the service, turns each `message-created` event into one delivery per target
 * configured for the mailbox's domain, on the work queue VM_WEBHOOKS (de-duplicated by delivery
 * id, so a redelivered event queues nothing twice). The event is acknowledged only once its
 * deliveries are queued: a restart in between queues them again, never loses them.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  decodeJson,
  encodeJson,
  ensureStreams,
  isServiceError,
  MailboxChangedEventSchema,
  request,
  StorageApi,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type MailboxChangedEvent,
  type MessageInfo,
  type WebhookBody,
  type WebhookDelivery,
} from '@sipvm/contracts';
import { startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import type { WebhookTargets } from './targets.js';

export const WEBHOOK_FANOUT_CONSUMER = 'web-webhook-fanout';
const RETRY_MS = 5_000;

export interface FanoutOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  targets: WebhookTargets;
  log: Logger;
}

export async function startWebhookFanout(options: FanoutOptions): Promise<{ stop(): Promise<void> }> {
  await ensureStreams(options.jsm, ['mailbox', 'webhooks']);
  return startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.mailbox.name,
    consumer: WEBHOOK_FANOUT_CONSUMER,
    filterSubject: SUBJECTS.mailbox.changed,
    concurrency: 4,
    ackWaitMs: 60_000,
    // A first deployment does not post a week of old messages; from then on nothing is missed.
    deliverNewOnly: true,
    log: options.log,
    handle: (msg) => fanOut(msg, options),
  });
}

async function fanOut(msg: JsMsg, options: FanoutOptions): Promise<WorkOutcome> {
  let event: MailboxChangedEvent;
  try {
    event = decodeJson(MailboxChangedEventSchema, msg.data, 'mailbox event');
  } catch (error) {
    const reason = toServiceError(error).message;
    options.log.error({ err: reason, seq: msg.seq }, 'mailbox event is malformed; no webhook for it');
    return { kind: 'drop', reason };
  }
  if (event.change !== 'message-created') return { kind: 'done' };
  const targets = options.targets.forDomain(event.mailbox.did);
  if (targets.length === 0) return { kind: 'done' };
  let message: MessageInfo | undefined;
  try {
    message = (await request(options.nc, StorageApi.getMessage, { mailbox: event.mailbox, id: event.messageId })).message;
  } catch (error) {
    // Deleted before we got here: the receiver still hears that it arrived.
    if (!isServiceError(error, 'message-not-found') && !isServiceError(error, 'mailbox-not-found')) {
      options.log.warn({ err: toServiceError(error).message, messageId: event.messageId }, 'cannot read the new message; will retry');
      return { kind: 'retry', delayMs: RETRY_MS };
    }
  }
  try {
    for (const target of targets) {
      const delivery: WebhookDelivery = { target: target.name, body: webhookBody(event, message, target.name), queuedAt: new Date().toISOString() };
      await options.js.publish(SUBJECTS.webhook.deliver, encodeJson(delivery), { msgID: delivery.body.deliveryId });
    }
  } catch (error) {
    options.log.warn({ err: toServiceError(error).message, eventId: event.eventId }, 'cannot queue webhook deliveries; will retry');
    return { kind: 'retry', delayMs: RETRY_MS };
  }
  options.log.info({ eventId: event.eventId, messageId: event.messageId, targets: targets.map((t) => t.name) }, 'webhook deliveries queued');
  return { kind: 'done' };
}

function webhookBody(event: MailboxChangedEvent, message: MessageInfo | undefined, target: string): WebhookBody {
  return {
    type: 'message.created',
    deliveryId: `${event.eventId}-${target}`,
    eventId: event.eventId,
    occurredAt: event.at,
    mailbox: event.mailbox,
    message: message
      ? {
          id: message.id,
          sender: message.sender,
          recordedAt: message.recordedAt,
          durationMs: message.durationMs,
          codec: message.codec,
          urgent: message.urgent,
          size: message.size,
          ...(message.forwardedFrom ? { forwardedFrom: message.forwardedFrom } : {}),
        }
      : { id: event.messageId },
    counts: event.counts,
  };
}
