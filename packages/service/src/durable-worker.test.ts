/**
 * The work-queue worker every durable job runs on (mail, deposits, call ends, timers, MWI,
 * webhooks), against a real nats-server: a slow job holds up no other, a job whose worker died is
 * delivered again, a long job is kept alive past the ack wait (and no longer), an instance takes no
 * more jobs than it can run and stopping waits for those running (giving back at once those it
 * holds); a job asked to be retried comes back after its delay, a done or dropped one never, one
 * whose handler crashed after a pause; a notification consumer starts with what is new; a job runs
 * in the trace it was sent in. And the retry schedule a handler picks its delay from.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { setTracingEnabled, withTraceHeaders } from '@sipvm/contracts';
import { startNats, waitFor, type NatsServer } from '@sipvm/harness';
import { pino } from 'pino';
import { retryDelay, Slots, startDurableWorker, type DurableWorkerOptions, type WorkOutcome } from './durable-worker.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Each test has a work queue of its own: they run side by side.
describe('durable worker', { concurrency: true }, () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let n = 0;

  /** A fresh work queue: its stream, subject and a publisher of jobs named by their payload. */
  const queue = async (retention: RetentionPolicy = RetentionPolicy.Workqueue) => {
    const name = `JOBS_${++n}`;
    const subject = `test.jobs.${n}`;
    await jsm.streams.add({ name, subjects: [subject], retention, storage: StorageType.File });
    return { name, subject, consumer: `workers-${n}`, publish: (job: string) => js.publish(subject, job) };
  };
  type Queue = Awaited<ReturnType<typeof queue>>;

  /** A worker on a test's queue; the test says how it works. */
  const workerOn = (q: Queue, options: Omit<DurableWorkerOptions, 'js' | 'jsm' | 'stream' | 'consumer' | 'filterSubject'>) =>
    startDurableWorker({ js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, ...options });

  /** A worker that ends every job with `outcome`, noting each delivery's count (1 the first time). */
  const countingDeliveries = async (q: Queue, outcome: WorkOutcome, ackWaitMs = 1_000) => {
    const deliveries: number[] = [];
    const worker = await workerOn(q, {
      concurrency: 2,
      ackWaitMs,
      log,
      handle: async (msg) => {
        deliveries.push(msg.info.deliveryCount);
        return outcome;
      },
    });
    return { worker, deliveries };
  };

  before(async () => {
    nats = await startNats();
    nc = await nats.connect();
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc?.close();
    await nats?.close();
  });

  it('a slow job holds one slot: the jobs behind it go through the others meanwhile', async () => {
    const q = await queue();
    const done: string[] = [];
    let slowDone = false;
    const worker = await workerOn(q, {
      concurrency: 3,
      ackWaitMs: 30_000,
      log,
      handle: async (msg): Promise<WorkOutcome> => {
        const job = msg.string();
        if (job === 'slow') {
          await sleep(3_000);
          slowDone = true;
        } else await sleep(20);
        done.push(job);
        return { kind: 'done' };
      },
    });
    try {
      await q.publish('slow');
      for (let i = 0; i < 30; i++) await q.publish(`fast-${i}`);
      await waitFor(() => done.length === 30, 2_500, 'the fast jobs, while the slow one runs');
      assert.equal(slowDone, false, 'the fast jobs did not wait for the slow one');
      await waitFor(() => slowDone, 5_000, 'the slow job');
    } finally {
      await worker.stop();
    }
    // An acknowledgement is a publish: nats-server removes the job from the work queue after it, not with it.
    await waitFor(async () => (await jsm.streams.info(q.name)).state.messages === 0, 5_000, 'every job acknowledged');
  });

  it('never runs more jobs at once than its concurrency', async () => {
    const q = await queue();
    let running = 0;
    let most = 0;
    let done = 0;
    const worker = await workerOn(q, {
      concurrency: 4,
      ackWaitMs: 30_000,
      log,
      handle: async () => {
        most = Math.max(most, ++running);
        await sleep(5 + Math.random() * 30);
        running--;
        done++;
        return { kind: 'done' };
      },
    });
    try {
      for (let i = 0; i < 60; i++) await q.publish(`job-${i}`);
      await waitFor(() => done === 60, 10_000, 'every job');
    } finally {
      await worker.stop();
    }
    assert.equal(most, 4);
  });

  it('a job whose worker died mid-way is delivered again, to the next worker', async () => {
    const q = await queue();
    const crashing = await nats.connect();
    let started = false;
    let release = () => undefined as void;
    const forever = new Promise<void>((resolve) => (release = resolve));
    await startDurableWorker({
      js: jetstream(crashing),
      jsm: await jetstreamManager(crashing),
      stream: q.name,
      consumer: q.consumer,
      filterSubject: q.subject,
      concurrency: 2,
      ackWaitMs: 2_000,
      log,
      handle: async () => {
        started = true;
        await forever; // the process dies while it works
        return { kind: 'done' };
      },
    });
    await q.publish('the job');
    await waitFor(() => started, 5_000, 'the first worker to take the job');
    await crashing.close(); // gone, without an answer: like a killed process
    const { worker: next, deliveries: taken } = await countingDeliveries(q, { kind: 'done' }, 2_000);
    try {
      await waitFor(() => taken.length > 0, 10_000, 'the job to come back');
      assert.deepEqual(taken, [2], 'delivered a second time, once');
    } finally {
      release();
      await next.stop();
    }
  });

  it('a job that runs longer than the ack wait is kept alive, not delivered twice', async () => {
    const q = await queue();
    const deliveries: number[] = [];
    const worker = await workerOn(q, {
      concurrency: 2,
      ackWaitMs: 1_500,
      log,
      handle: async (msg) => {
        deliveries.push(msg.info.deliveryCount);
        await sleep(4_000);
        return { kind: 'done' };
      },
    });
    try {
      await q.publish('long');
      await waitFor(async () => (await jsm.streams.info(q.name)).state.messages === 0, 8_000, 'the job acknowledged');
    } finally {
      await worker.stop();
    }
    assert.deepEqual(deliveries, [1]);
  });

  it('stopping waits for the jobs running; those waiting go to the next worker at once', async () => {
    const q = await queue();
    const finished: string[] = [];
    const first = await workerOn(q, {
      concurrency: 1,
      ackWaitMs: 60_000,
      log,
      handle: async (msg) => {
        await sleep(1_000);
        finished.push(msg.string());
        return { kind: 'done' };
      },
    });
    for (let i = 0; i < 5; i++) await q.publish(`job-${i}`);
    await sleep(300);
    await first.stop();
    assert.deepEqual(finished, ['job-0'], 'the running job finished before stop returned');
    const rest: string[] = [];
    const second = await workerOn(q, {
      concurrency: 4,
      ackWaitMs: 60_000,
      log,
      handle: async (msg) => {
        rest.push(msg.string());
        return { kind: 'done' };
      },
    });
    try {
      // Not after the 60 s ack wait: the first held none of them (it takes no more than it can run).
      await waitFor(() => rest.length === 4, 5_000, 'the other jobs, on the next worker');
      assert.deepEqual([...rest].sort(), ['job-1', 'job-2', 'job-3', 'job-4']);
    } finally {
      await second.stop();
    }
  });

  it('stopping with every slot busy: it waits for each job running, and gives the jobs it holds back at once', async () => {
    const q = await queue();
    // Each job the first worker begins runs until the test lets it finish.
    const gates = new Map<string, () => void>();
    let open = false;
    const finish = (job: string) => gates.get(job)?.();
    const begun: string[] = [];
    const finished: string[] = [];
    const first = await workerOn(q, {
      concurrency: 2,
      ackWaitMs: 60_000,
      log,
      handle: async (msg): Promise<WorkOutcome> => {
        const job = msg.string();
        begun.push(job);
        if (!open) await new Promise<void>((resolve) => gates.set(job, resolve));
        finished.push(job);
        return { kind: 'done' };
      },
    });
    const jobs = ['job-0', 'job-1', 'job-2', 'job-3', 'job-4', 'job-5'];
    const rest: { job: string; count: number }[] = [];
    let second: { stop(): Promise<void> } | undefined;
    let stopping: Promise<void> | undefined;
    try {
      for (const job of jobs) await q.publish(job);
      // Both slots busy, and more delivered to this instance than it runs: a job it holds, not begun.
      await waitFor(
        async () => begun.length === 2 && gates.size === 2 && (await jsm.consumers.info(q.name, q.consumer)).num_ack_pending > 2,
        5_000,
        'two jobs running and one more held by the first worker',
      );
      await nc.flush(); // the job it holds is in its hands, not still on the wire
      let stopped = false;
      let finishedWhenStopped: string[] = [];
      stopping = first.stop().then(() => {
        stopped = true;
        finishedWhenStopped = [...finished];
      });
      second = await workerOn(q, {
        concurrency: 4,
        ackWaitMs: 60_000,
        log,
        handle: async (msg): Promise<WorkOutcome> => {
          rest.push({ job: msg.string(), count: msg.info.deliveryCount });
          return { kind: 'done' };
        },
      });
      // One running job finishes: its slot goes to a held job, which must go back, not run.
      finish(begun[0]!);
      // Not after the 60 s ack wait: the held job was given back at once.
      await waitFor(() => rest.length === jobs.length - 2, 5_000, 'the jobs the first worker did not begin, on the second');
      assert.equal(stopped, false, 'stop() still waits for the job running');
      finish(begun[1]!);
      await stopping;
      assert.deepEqual([...finishedWhenStopped].sort(), [...begun].sort(), 'each job running finished before stop() returned');
    } finally {
      open = true;
      for (const release of gates.values()) release();
      await (stopping ?? first.stop());
      await second?.stop();
    }
    assert.equal(begun.length, 2, 'the first worker began no job once stopping');
    assert.ok(
      rest.some((r) => r.count > 1),
      `a job the first worker held came back to the second: ${JSON.stringify(rest)}`,
    );
    assert.deepEqual([...begun, ...rest.map((r) => r.job)].sort(), jobs, 'every job run, once');
    // The stream removes a job acknowledged a moment after the acknowledgement, not with it.
    await waitFor(async () => (await jsm.streams.info(q.name)).state.messages === 0, 5_000, 'every job acknowledged');
  });

  it('takes no more jobs than it has slots: the rest stay with JetStream for the other instances', async () => {
    const q = await queue();
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first: string[] = [];
    const busy = await workerOn(q, {
      concurrency: 1,
      ackWaitMs: 30_000,
      log,
      handle: async (msg): Promise<WorkOutcome> => {
        first.push(msg.string());
        await held;
        return { kind: 'done' };
      },
    });
    const second: string[] = [];
    let other: { stop(): Promise<void> } | undefined;
    try {
      for (let i = 0; i < 4; i++) await q.publish(`job-${i}`);
      await waitFor(() => first.length === 1, 5_000, 'the first instance to begin a job');
      other = await workerOn(q, {
        concurrency: 4,
        ackWaitMs: 30_000,
        log,
        handle: async (msg): Promise<WorkOutcome> => {
          second.push(msg.string());
          return { kind: 'done' };
        },
      });
      // Not after the first instance's 30 s ack wait: it never held them.
      await waitFor(() => second.length === 3, 5_000, 'the other instance to take the three jobs waiting');
    } finally {
      release();
      await other?.stop();
      await busy.stop();
    }
    assert.deepEqual([...first, ...second].sort(), ['job-0', 'job-1', 'job-2', 'job-3']);
  });

  it('a job is kept alive while it runs, and no longer once it is done', async () => {
    const q = await queue();
    let kept = 0;
    let doneAt = 0;
    let keptWhenDone = 0;
    const worker = await workerOn(q, {
      concurrency: 2,
      ackWaitMs: 1_500,
      log,
      handle: async (msg): Promise<WorkOutcome> => {
        const working = msg.working.bind(msg);
        msg.working = () => {
          kept++;
          working();
        };
        await sleep(2_500);
        doneAt = Date.now();
        keptWhenDone = kept;
        return { kind: 'done' };
      },
    });
    try {
      await q.publish('long');
      await waitFor(() => doneAt > 0, 8_000, 'the job');
      await sleep(2_500);
    } finally {
      await worker.stop();
    }
    assert.ok(keptWhenDone >= 1, 'kept alive past its 1.5 s ack wait');
    assert.equal(kept, keptWhenDone, 'nothing kept alive after the job');
  });

  it('a job asked to be retried comes back after its delay, not before; once done it is gone', async () => {
    const q = await queue();
    const deliveries: { count: number; at: number }[] = [];
    const worker = await workerOn(q, {
      concurrency: 2,
      ackWaitMs: 30_000,
      log,
      handle: async (msg): Promise<WorkOutcome> => {
        deliveries.push({ count: msg.info.deliveryCount, at: Date.now() });
        return deliveries.length === 1 ? { kind: 'retry', delayMs: 1_500 } : { kind: 'done' };
      },
    });
    try {
      await q.publish('not yet');
      await waitFor(async () => deliveries.length === 2 && (await jsm.streams.info(q.name)).state.messages === 0, 8_000, 'the job done on its second delivery');
    } finally {
      await worker.stop();
    }
    assert.deepEqual(
      deliveries.map((d) => d.count),
      [1, 2],
    );
    const waited = deliveries[1]!.at - deliveries[0]!.at;
    assert.ok(waited >= 1_400 && waited < 5_000, `delivered again after ${waited} ms, asked for 1500`);
  });

  it('a dropped job is removed for good: never delivered again', async () => {
    const q = await queue();
    const { worker, deliveries } = await countingDeliveries(q, { kind: 'drop', reason: 'the mailbox is gone' });
    try {
      await q.publish('undeliverable');
      await waitFor(async () => (await jsm.streams.info(q.name)).state.messages === 0, 5_000, 'the job removed');
      await sleep(2_500); // past the ack wait: a job not acknowledged would be back by now
    } finally {
      await worker.stop();
    }
    assert.deepEqual(deliveries, [1]);
  });

  it('a job done is acknowledged: not delivered again after its ack wait', async () => {
    // A stream that keeps its messages: a job not acknowledged would come back from it.
    const q = await queue(RetentionPolicy.Limits);
    const { worker, deliveries } = await countingDeliveries(q, { kind: 'done' });
    try {
      const { seq } = await q.publish('the job');
      await waitFor(
        async () => {
          const info = await jsm.consumers.info(q.name, q.consumer);
          return info.ack_floor.stream_seq >= seq && info.num_ack_pending === 0;
        },
        5_000,
        'the job acknowledged',
      );
      await sleep(1_500); // past the ack wait: a job not acknowledged would be back by now
    } finally {
      await worker.stop();
    }
    assert.deepEqual(deliveries, [1]);
  });

  it('a job whose handler crashed is kept, and comes back ten seconds later, not at once', async () => {
    const q = await queue();
    const deliveries: number[] = [];
    const worker = await workerOn(q, {
      concurrency: 2,
      ackWaitMs: 60_000,
      log,
      handle: async (): Promise<WorkOutcome> => {
        deliveries.push(Date.now());
        if (deliveries.length === 1) throw new TypeError('a bug in the handler');
        return { kind: 'done' };
      },
    });
    try {
      await q.publish('the job');
      await waitFor(() => deliveries.length === 2, 15_000, 'the job to come back');
      await waitFor(async () => (await jsm.streams.info(q.name)).state.messages === 0, 5_000, 'the job done');
    } finally {
      await worker.stop();
    }
    const waited = deliveries[1]! - deliveries[0]!;
    assert.ok(waited >= 9_500 && waited < 13_000, `delivered again after ${waited} ms`);
  });

  it('a notification consumer starts with what is new; a work queue takes what waited for it', async () => {
    for (const deliverNewOnly of [true, false]) {
      const q = await queue(RetentionPolicy.Limits);
      await q.publish('old');
      const taken: string[] = [];
      const worker = await workerOn(q, {
        concurrency: 2,
        ackWaitMs: 30_000,
        log,
        deliverNewOnly,
        handle: async (msg): Promise<WorkOutcome> => {
          taken.push(msg.string());
          return { kind: 'done' };
        },
      });
      try {
        await q.publish('new');
        await waitFor(() => taken.includes('new'), 5_000, 'the new job');
        await sleep(200);
      } finally {
        await worker.stop();
      }
      assert.deepEqual(taken, deliverNewOnly ? ['new'] : ['old', 'new']);
    }
  });

  it('runs a job in the trace it was sent in (the call whose end it is)', async () => {
    const q = await queue();
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
    setTracingEnabled(true);
    let worker: { stop(): Promise<void> } | undefined;
    try {
      worker = await workerOn(q, {
        concurrency: 2,
        ackWaitMs: 30_000,
        log,
        handle: async (): Promise<WorkOutcome> => ({ kind: 'done' }),
      });
      const call = trace.getTracer('test').startSpan('call');
      const headers = context.with(trace.setSpan(context.active(), call), () => withTraceHeaders(undefined));
      const { seq } = await js.publish(q.subject, 'traced', { headers: headers! });
      call.end();
      await waitFor(() => exporter.getFinishedSpans().some((s) => s.name === `${q.consumer} job`), 5_000, "the job's span");
      const span = exporter.getFinishedSpans().find((s) => s.name === `${q.consumer} job`)!;
      assert.equal(span.spanContext().traceId, call.spanContext().traceId, "in the call's trace");
      assert.equal(span.parentSpanContext?.spanId, call.spanContext().spanId);
      assert.equal(span.kind, SpanKind.CONSUMER);
      assert.equal(span.attributes['messaging.message.id'], seq);
    } finally {
      await worker?.stop();
      setTracingEnabled(false);
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    }
  });
});

it('slots: each release lets one waiter in; a freed slot wakes who watches', async () => {
  const slots = new Slots(2);
  await slots.acquire();
  await slots.acquire();
  let third = false;
  const waiting = slots.acquire().then(() => (third = true));
  let watched = false;
  void slots.whenFree().then(() => (watched = true));
  await sleep(10);
  assert.equal(third, false);
  slots.release();
  await waiting;
  assert.equal(third, true);
  assert.equal(slots.free, 0, 'the freed slot went to the waiter');
  await sleep(0);
  assert.equal(watched, true);
  slots.release();
  slots.release();
  assert.equal(slots.free, 2);
});

it('retry delays: attempt n waits the n-th delay of the schedule, and its last repeats once it runs out', () => {
  const schedule = [1_000, 5_000, 30_000];
  assert.deepEqual(
    [1, 2, 3, 4, 10].map((attempt) => retryDelay(schedule, attempt)),
    [1_000, 5_000, 30_000, 30_000, 30_000],
  );
  assert.equal(retryDelay([60_000], 1), 60_000);
  assert.equal(retryDelay([60_000], 7), 60_000);
  assert.equal(retryDelay([], 1), 0, 'no schedule: no delay');
});
