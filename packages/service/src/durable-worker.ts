/**
 * A worker on a JetStream durable consumer: the shape of every "work that must not be lost"
 * (docs/design.md, rule 3). Instances of a service share one durable consumer, so each job goes to one of
 * them; a job is acknowledged only when its handler says it is done, delivered again after a
 * delay when the handler asks for a retry, and after ack-wait when the instance died mid-job.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { InFlight } from './in-flight.js';

export type WorkOutcome =
  /** Finished: acknowledge and forget. */
  | { kind: 'done' }
  /** Not now: deliver it again after `delayMs`. */
  | { kind: 'retry'; delayMs: number }
  /** Never: remove it for good (the handler has reported why; `reason` is for the caller's logs). */
  | { kind: 'drop'; reason: string };

export interface DurableWorkerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  consumer: string;
  filterSubject: string;
  /** Jobs handled at once by this instance. */
  concurrency: number;
  /** A job not finished in this time (and not kept alive) goes to another instance. */
  ackWaitMs: number;
  /**
   * When the consumer is first created, start with new messages instead of the whole stream:
   * for notifications (MWI), where replaying a week of old events on a first deploy helps nobody.
   * Work queues (mail, deposits) keep the default: every job counts.
   */
  deliverNewOnly?: boolean;
  log: Logger;
  handle: (msg: JsMsg) => Promise<WorkOutcome>;
}

/** A handler that throws is a bug; its job is retried after this delay instead of being lost. */
const RETRY_AFTER_CRASH_MS = 10_000;

export async function startDurableWorker(options: DurableWorkerOptions): Promise<{ stop(): Promise<void> }> {
  await options.jsm.consumers.add(options.stream, {
    durable_name: options.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: options.deliverNewOnly ? DeliverPolicy.New : DeliverPolicy.All,
    filter_subject: options.filterSubject,
    ack_wait: options.ackWaitMs * 1_000_000,
    max_ack_pending: 1_000,
  });
  const consumer = await options.js.consumers.get(options.stream, options.consumer);
  const messages = await consumer.consume({ max_messages: options.concurrency });
  const inFlight = new InFlight();

  const run = async (msg: JsMsg) => {
    // Long jobs (an hour of audio to a slow SMTP relay) tell JetStream they are still alive.
    const keepAlive = setInterval(() => msg.working(), Math.max(1_000, options.ackWaitMs / 3));
    try {
      const outcome = await options.handle(msg);
      if (outcome.kind === 'done') msg.ack();
      else if (outcome.kind === 'retry') msg.nak(outcome.delayMs);
      // Dropped jobs are acknowledged, not terminated: on a work-queue stream a terminated
      // message is never delivered again but stays stored until its maximum age (14 days of
      // undeliverable mail); the handler has reported it already.
      else msg.ack();
    } catch (error) {
      options.log.error({ err: String(error), stack: (error as Error).stack, stream: options.stream, seq: msg.seq }, 'job handler failed; will retry');
      msg.nak(RETRY_AFTER_CRASH_MS);
    } finally {
      clearInterval(keepAlive);
    }
  };
  const loop = (async () => {
    for await (const msg of messages) {
      while (inFlight.size >= options.concurrency) await inFlight.idle();
      void inFlight.track(run(msg));
    }
  })();

  return {
    async stop() {
      await messages.close();
      await loop;
      await inFlight.idle();
    },
  };
}

/** The delay before attempt `attempt + 1` (1-based attempts): the schedule's last entry repeats. */
export function retryDelay(schedule: readonly number[], attempt: number): number {
  return schedule[Math.min(attempt, schedule.length) - 1] ?? 0;
}
