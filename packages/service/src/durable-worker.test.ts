/**
 * The work-queue worker every durable job runs on (mail, deposits, call ends, timers, MWI,
 * webhooks), against a real nats-server: a slow job holds up no other, a job whose worker died is
 * delivered again, a long job is kept alive past the ack wait, and stopping gives back what had
 * not begun.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNats, waitFor, type NatsServer } from '@sipvm/harness';
import { pino } from 'pino';
import { Slots, startDurableWorker, type WorkOutcome } from './durable-worker.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('durable worker', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let n = 0;

  /** A fresh work queue: its stream, subject and a publisher of jobs named by their payload. */
  const queue = async () => {
    const name = `JOBS_${++n}`;
    const subject = `test.jobs.${n}`;
    await jsm.streams.add({ name, subjects: [subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
    return { name, subject, consumer: `workers-${n}`, publish: (job: string) => js.publish(subject, job) };
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
    const worker = await startDurableWorker({
      js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, concurrency: 3, ackWaitMs: 30_000, log,
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
    assert.equal((await jsm.streams.info(q.name)).state.messages, 0, 'every job acknowledged');
  });

  it('never runs more jobs at once than its concurrency', async () => {
    const q = await queue();
    let running = 0;
    let most = 0;
    let done = 0;
    const worker = await startDurableWorker({
      js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, concurrency: 4, ackWaitMs: 30_000, log,
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
      js: jetstream(crashing), jsm: await jetstreamManager(crashing), stream: q.name, consumer: q.consumer, filterSubject: q.subject,
      concurrency: 2, ackWaitMs: 2_000, log,
      handle: async () => {
        started = true;
        await forever; // the process dies while it works
        return { kind: 'done' };
      },
    });
    await q.publish('the job');
    await waitFor(() => started, 5_000, 'the first worker to take the job');
    await crashing.close(); // gone, without an answer: like a killed process
    const taken: number[] = [];
    const next = await startDurableWorker({
      js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, concurrency: 2, ackWaitMs: 2_000, log,
      handle: async (msg) => {
        taken.push(msg.info.deliveryCount);
        return { kind: 'done' };
      },
    });
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
    const worker = await startDurableWorker({
      js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, concurrency: 2, ackWaitMs: 1_500, log,
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

  it('stopping waits for the jobs running and gives back those not begun, at once', async () => {
    const q = await queue();
    const finished: string[] = [];
    const first = await startDurableWorker({
      js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, concurrency: 1, ackWaitMs: 60_000, log,
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
    const second = await startDurableWorker({
      js, jsm, stream: q.name, consumer: q.consumer, filterSubject: q.subject, concurrency: 4, ackWaitMs: 60_000, log,
      handle: async (msg) => {
        rest.push(msg.string());
        return { kind: 'done' };
      },
    });
    try {
      // Not after the 60 s ack wait: what the first had taken and not begun was given back.
      await waitFor(() => rest.length === 4, 5_000, 'the other jobs, on the next worker');
      assert.deepEqual([...rest].sort(), ['job-1', 'job-2', 'job-3', 'job-4']);
    } finally {
      await second.stop();
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
