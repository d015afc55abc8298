/**
 * A worker on a JetStream durable consumer: the shape of every "work that must not be lost"
 * (docs/design.md, rule 3). Instances of a service share one durable consumer, so each job goes to one of
 * them; a job is acknowledged only when its handler says it is done, delivered again after a
 * delay when the handler asks for a retry, and after ack-wait when the instance died mid-job.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { inSpan, SpanKind, traceOf } from '@sipvm/contracts';
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
  const slots = new Slots(options.concurrency);
  const inFlight = new InFlight();
  let stopping = false;

  /**
   * A job from the moment it arrives: kept alive while it waits for a slot and while it runs (an
   * hour of audio to a slow SMTP relay), done in its own slot so that a slow job holds up no other.
   */
  const take = async (msg: JsMsg) => {
    const keepAlive = setInterval(() => msg.working(), Math.max(1_000, options.ackWaitMs / 3));
    keepAlive.unref();
    try {
      await slots.acquire();
      try {
        // Stopping: a job not begun goes back at once, to another instance or the next run.
        if (stopping) msg.nak();
        else await run(msg);
      } finally {
        slots.release();
      }
    } finally {
      clearInterval(keepAlive);
    }
  };
  const run = async (msg: JsMsg) => {
    try {
      // The job's trace is the one it was sent in (the call whose end it is, say).
      const outcome = await inSpan(
        `${options.consumer} job`,
        traceOf(msg.headers),
        { 'messaging.message.id': msg.seq },
        () => options.handle(msg),
        SpanKind.CONSUMER,
      );
      // Done and dropped jobs alike are acknowledged. A dropped one is not terminated: on a
      // work-queue stream a terminated message is never delivered again but stays stored until
      // its maximum age (14 days of undeliverable mail); the handler has reported it already.
      if (outcome.kind === 'retry') msg.nak(outcome.delayMs);
      else msg.ack();
    } catch (error) {
      options.log.error({ err: String(error), stack: (error as Error).stack, stream: options.stream, seq: msg.seq }, 'job handler failed; will retry');
      msg.nak(RETRY_AFTER_CRASH_MS);
    }
  };
  const loop = (async () => {
    for await (const msg of messages) {
      void inFlight.track(take(msg));
      // Take no more from the consumer than can run: the rest stay with JetStream for others.
      await slots.whenFree();
    }
  })();

  return {
    /** Takes no new job, gives back those not begun, and waits for those running. */
    async stop() {
      stopping = true;
      await messages.close();
      // The server must have seen the end of the pull before stop() returns: a job published just
      // after (another connection) would otherwise go to this pull's inbox and wait out ack-wait
      // before another instance got it. A request on this connection comes after its UNSUB.
      await consumer.info().catch(() => undefined);
      await loop;
      await inFlight.idle();
    },
  };
}

/** A counting semaphore: at most `size` jobs at once, each freeing its own slot. */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  readonly #watchers: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  get free(): number {
    return this.#free;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
    for (const wake of this.#watchers.splice(0)) wake();
  }

  /** Resolves when a slot is free now or becomes free (without taking it). */
  whenFree(): Promise<void> {
    return this.#free > 0 && this.#waiting.length === 0 ? Promise.resolve() : new Promise((resolve) => this.#watchers.push(resolve));
  }
}

/** The delay before attempt `attempt + 1` (1-based attempts): the schedule's last entry repeats. */
export function retryDelay(schedule: readonly number[], attempt: number): number {
  return schedule[Math.min(attempt, schedule.length) - 1] ?? 0;
}
