/**
 * Webhook deliveries (work queue VM_WEBHOOKS): each is posted, signed, to its target and
 * acknowledged only on a 2xx answer. Anything else — an error status, a refused connection, a
 * timeout, a redirect — is retried after WEBHOOK_RETRY_DELAYS; the schedule lives in JetStream,
 * so it outlives restarts and moves between instances. When the budget is spent the delivery is
 * reported on VM_WEBHOOKS_FAILED, logged and counted: never dropped silently.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { Counter, type Registry } from 'prom-client';
import {
  decodeJson,
  encodeJson,
  ensureStreams,
  STREAMS,
  SUBJECTS,
  toServiceError,
  WebhookDeliverySchema,
  type WebhookDelivery,
  type WebhookFailedEvent,
} from '@sipvm/contracts';
import { retryDelay, startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';
import type { WebhookTarget, WebhookTargets } from './targets.js';

export const WEBHOOK_DELIVERY_CONSUMER = 'web-webhook-delivery';

export interface DeliveryOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  targets: WebhookTargets;
  retryDelaysMs: readonly number[];
  timeoutMs: number;
  concurrency: number;
  log: Logger;
  registry: Registry;
}

type Metrics = Counter<'target' | 'outcome'>;

export async function startWebhookDelivery(options: DeliveryOptions): Promise<{ stop(): Promise<void> }> {
  await ensureStreams(options.jsm, ['webhooks', 'webhooksFailed']);
  const attempts: Metrics = new Counter({
    name: 'sipvm_webhook_attempts_total',
    help: 'Webhook posting attempts by target and outcome (delivered, retry, failed)',
    labelNames: ['target', 'outcome'],
    registers: [options.registry],
  });
  return startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.webhooks.name,
    consumer: WEBHOOK_DELIVERY_CONSUMER,
    filterSubject: SUBJECTS.webhook.deliver,
    concurrency: options.concurrency,
    ackWaitMs: Math.max(30_000, options.timeoutMs * 3),
    log: options.log,
    handle: (msg) => deliver(msg, options, attempts),
  });
}

async function deliver(msg: JsMsg, options: DeliveryOptions, attempts: Metrics): Promise<WorkOutcome> {
  let job: WebhookDelivery;
  try {
    job = decodeJson(WebhookDeliverySchema, msg.data, 'webhook delivery');
  } catch (error) {
    const reason = toServiceError(error).message;
    options.log.error({ err: reason, seq: msg.seq }, 'webhook delivery is malformed; removed');
    return { kind: 'drop', reason };
  }
  const attempt = msg.info.deliveryCount;
  const log = options.log.child({ target: job.target, deliveryId: job.body.deliveryId, attempt });
  const target = options.targets.byName(job.target);
  if (!target) return report(options, attempts, job, attempt, 'target-removed', 'the target is no longer configured', log);
  const failure = await post(target, job, attempt, options.timeoutMs);
  if (failure === undefined) {
    attempts.inc({ target: target.name, outcome: 'delivered' });
    log.info({ type: job.body.type, ...(job.body.type === 'message.created' ? { messageId: job.body.message.id } : {}) }, 'webhook delivered');
    return { kind: 'done' };
  }
  if (attempt > options.retryDelaysMs.length) return report(options, attempts, job, attempt, 'budget-spent', failure, log);
  const delayMs = retryDelay(options.retryDelaysMs, attempt);
  attempts.inc({ target: target.name, outcome: 'retry' });
  log.warn({ reason: failure, retryInMs: delayMs }, 'webhook not accepted; will retry');
  return { kind: 'retry', delayMs };
}

/** Posts once; undefined when the receiver accepted it (2xx), else why not. */
async function post(target: WebhookTarget, job: WebhookDelivery, attempt: number, timeoutMs: number): Promise<string | undefined> {
  const body = JSON.stringify(job.body);
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'sipvm-webhooks/1',
        [SIGNATURE_HEADER]: signWebhook(target.secret, body, Math.floor(Date.now() / 1000)),
        'Sipvm-Event': job.body.type,
        'Sipvm-Delivery': job.body.deliveryId,
        'Sipvm-Attempt': String(attempt),
      },
      body,
      // A redirect is not followed: the signature was made for this target, not wherever it points.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const said = (await response.text().catch(() => '')).slice(0, 200);
    if (response.status >= 200 && response.status < 300) return undefined;
    return `HTTP ${response.status}${said ? `: ${said}` : ''}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `${(error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error as Error).message}${cause?.code ? ` (${cause.code})` : ''}`;
  }
}

async function report(
  options: DeliveryOptions,
  attempts: Metrics,
  job: WebhookDelivery,
  attempt: number,
  outcome: WebhookFailedEvent['outcome'],
  reason: string,
  log: Logger,
): Promise<WorkOutcome> {
  const event: WebhookFailedEvent = {
    target: job.target,
    deliveryId: job.body.deliveryId,
    mailbox: job.body.mailbox,
    ...(job.body.type === 'message.created' ? { messageId: job.body.message.id } : {}),
    attempts: attempt,
    reason: reason.slice(0, 2048),
    outcome,
    at: new Date().toISOString(),
  };
  try {
    await options.js.publish(SUBJECTS.webhook.failed, encodeJson(event), { msgID: `failed-${job.body.deliveryId}` });
  } catch (error) {
    // Kept rather than lost unreported: it is reported later.
    log.error({ err: toServiceError(error).message }, 'cannot report a failed webhook; keeping it');
    return { kind: 'retry', delayMs: 30_000 };
  }
  attempts.inc({ target: job.target, outcome: 'failed' });
  log.error({ reason, outcome }, 'webhook could not be delivered; reported on vm.webhook.failed');
  return { kind: 'drop', reason };
}
