/**
 * Mailbox events → webhook deliveries. Durable consumers of VM_MAILBOX, shared by every instance
 * of the service, turn each `message-created` event (`message.created`) and each transcript's
 * announcement (`message.transcribed`) into one delivery per target configured for the mailbox's
 * domain, on the work queue VM_WEBHOOKS (de-duplicated by delivery id, so a redelivered event
 * queues nothing twice). The event is acknowledged only once its deliveries are queued: a restart
 * in between queues them again, never loses them.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { z } from 'zod';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  decodeJson,
  encodeJson,
  ensureStreams,
  isServiceError,
  MailboxChangedEventSchema,
  MessageTranscribedEventSchema,
  request,
  StorageApi,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type MailboxChangedEvent,
  type MessageInfo,
  type WebhookBody,
  type WebhookDelivery,
  type WebhookEvent,
} from '@sipvm/contracts';
import { startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import type { WebhookTargets } from './targets.js';

export const WEBHOOK_FANOUT_CONSUMER = 'web-webhook-fanout';
export const WEBHOOK_TRANSCRIPTS_CONSUMER = 'web-webhook-transcripts';
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
  const consume = (consumer: string, filterSubject: string, handle: (msg: JsMsg) => Promise<WorkOutcome>) =>
    startDurableWorker({
      js: options.js,
      jsm: options.jsm,
      stream: STREAMS.mailbox.name,
      consumer,
      filterSubject,
      concurrency: 4,
      ackWaitMs: 60_000,
      // A first deployment does not post a week of old messages; from then on nothing is missed.
      deliverNewOnly: true,
      log: options.log,
      handle,
    });
  const workers = [
    await consume(WEBHOOK_FANOUT_CONSUMER, SUBJECTS.mailbox.changed, async (msg) => {
      const decoded = decode(msg, MailboxChangedEventSchema, options);
      if ('outcome' in decoded) return decoded.outcome;
      return decoded.event.change === 'message-created' ? fanOut('message.created', decoded.event, options) : { kind: 'done' };
    }),
    await consume(WEBHOOK_TRANSCRIPTS_CONSUMER, SUBJECTS.mailbox.transcribed, async (msg) => {
      const decoded = decode(msg, MessageTranscribedEventSchema, options);
      return 'outcome' in decoded ? decoded.outcome : fanOut('message.transcribed', decoded.event, options);
    }),
  ];
  return {
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop()));
    },
  };
}

/** The event, or (malformed: a producer's bug, logged) the outcome that removes it. */
function decode<S extends z.ZodType>(msg: JsMsg, schema: S, options: FanoutOptions): { event: z.output<S> } | { outcome: WorkOutcome } {
  try {
    return { event: decodeJson(schema, msg.data, 'mailbox event') };
  } catch (error) {
    const reason = toServiceError(error).message;
    options.log.error({ err: reason, seq: msg.seq }, 'mailbox event is malformed; no webhook for it');
    return { outcome: { kind: 'drop', reason } };
  }
}

type AnnouncedEvent = Pick<MailboxChangedEvent, 'eventId' | 'mailbox' | 'messageId' | 'counts' | 'at'>;

async function fanOut(type: WebhookEvent, event: AnnouncedEvent, options: FanoutOptions): Promise<WorkOutcome> {
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
      const delivery: WebhookDelivery = { target: target.name, body: webhookBody(type, event, message, target.name), queuedAt: new Date().toISOString() };
      await options.js.publish(SUBJECTS.webhook.deliver, encodeJson(delivery), { msgID: delivery.body.deliveryId });
    }
  } catch (error) {
    options.log.warn({ err: toServiceError(error).message, eventId: event.eventId }, 'cannot queue webhook deliveries; will retry');
    return { kind: 'retry', delayMs: RETRY_MS };
  }
  options.log.info({ type, eventId: event.eventId, messageId: event.messageId, targets: targets.map((t) => t.name) }, 'webhook deliveries queued');
  return { kind: 'done' };
}

function webhookBody(type: WebhookEvent, event: AnnouncedEvent, message: MessageInfo | undefined, target: string): WebhookBody {
  return {
    type,
    deliveryId: `${event.eventId}-${target}`,
    eventId: event.eventId,
    occurredAt: event.at,
    mailbox: event.mailbox,
    message: message
      ? {
          id: message.id,
          sender: message.sender,
          ...(message.caller !== undefined ? { caller: message.caller } : {}),
          recordedAt: message.recordedAt,
          durationMs: message.durationMs,
          codec: message.codec,
          urgent: message.urgent,
          size: message.size,
          ...(message.transcript ? { transcript: message.transcript } : {}),
          ...(message.forwardedFrom ? { forwardedFrom: message.forwardedFrom } : {}),
        }
      : { id: event.messageId },
    counts: event.counts,
  };
}
