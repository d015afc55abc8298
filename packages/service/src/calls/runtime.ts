/**
 * The call runtime every application runs on (voicemail, voicebox, annrecorder): it feeds a pure
 * flow the events of its calls and carries out what the flow decides.
 *
 * Stateless instances: a call's record lives in a KV bucket and every change is a compare-and-set
 * (records.ts), so any instance may take any event of any call (queue group), and an instance that
 * dies mid-call is simply not asked again. Events of one call run one after the other here, in the
 * order they arrived (a PIN's digits stay in order). What an action finds out (a recording, a
 * mailbox listing) comes back to the flow as an event. Inactivity timers are JetStream messages
 * that come back until they are due, and an application whose hang-ups must never be missed takes
 * them from a JetStream stream: both then happen wherever an instance is alive.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  CallEndedEventSchema,
  CallTimerSchema,
  decodeJson,
  ensureStreams,
  eraseKvKey,
  openKv,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type Application,
  type BucketName,
  type CallStartedEvent,
  type StreamName,
} from '@sipvm/contracts';
import { subscribeCallEvents } from '../call-events.js';
import { retryDelay, startDurableWorker } from '../durable-worker.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { callLogger } from '../logger.js';
import type { CallAction, CallBase, CallEvent, Step } from './call.js';
import { CALL_ACTIONS, isCallAction, performWith, releaseRecordings, type ActionContext, type Performers } from './actions/index.js';
import { CallRecords } from './records.js';

/** A call outlives its record in KV by at most this (a record whose end was never seen expires). */
const RECORD_TTL_MS = 4 * 3600 * 1000;
/** Waits before a hang-up whose hand-over failed is taken again (the last one repeats). */
const ENDED_RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

/** What to do when an action fails. */
export type FailurePolicy =
  /** Tell the flow (`failed`) and skip the actions after it, which assumed it worked. */
  | 'report'
  /** Log it and go on (a hang-up whose call is gone already). */
  | 'ignore'
  /** Nothing may be lost: the event is taken again later (from its stream) until it works. */
  | 'retry';

export interface CallApplication<R extends CallBase, A extends { kind: string }, E extends { kind: string }> {
  /** Name in logs and metrics. */
  readonly name: string;
  /** The applications (P-App-Name) whose calls this runs. */
  readonly apps: readonly Application[];
  /** Queue group shared by the instances. */
  readonly queue: string;
  /** KV bucket of the call records. */
  readonly bucket: BucketName;
  readonly record: z.ZodType<R>;
  /** The first record and actions of a new call; undefined leaves the call alone. */
  start(event: CallStartedEvent, log: Logger): Promise<Step<R, A | CallAction> | undefined>;
  /** The flow: the call's next record and actions, given what happened. Pure. */
  decide(record: R, event: CallEvent | E): Step<R, A | CallAction>;
  /**
   * The application's own actions, a performer per kind (each in a file of the application's):
   * what it found out comes back as events. Kinds of the runtime's own (`CALL_ACTIONS`) are not allowed.
   */
  readonly actions: Performers<A, R, CallEvent | E>;
  /** How a failed action is handled (default: `report`, but a hang-up or a discard is `ignore`d). */
  onFailure?(action: A | CallAction, error: unknown): FailurePolicy | undefined;
  /** Hang-ups taken from this stream (durable consumer) instead of core NATS. */
  readonly durableEnds?: { stream: StreamName; consumer: string };
  /** Inactivity timers: the stream and subject `arm-timer` publishes to, and their consumer. */
  readonly timers?: { stream: StreamName; subject: string; consumer: string };
}

export interface CallRuntimeOptions<R extends CallBase, A extends { kind: string }, E extends { kind: string }> {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  registry: Registry;
  app: CallApplication<R, A, E>;
}

export interface CallRuntime {
  stop(): Promise<void>;
}

export async function startCallRuntime<R extends CallBase, A extends { kind: string }, E extends { kind: string }>(
  options: CallRuntimeOptions<R, A, E>,
): Promise<CallRuntime> {
  const { nc, app, log } = options;
  // One stream subject per durable consumer: a runtime of several applications takes its hang-ups from core NATS.
  if (app.durableEnds && app.apps.length !== 1) throw new Error(`${app.name}: durable hang-ups need exactly one application`);
  const shadowed = Object.keys(app.actions).filter((kind) => isCallAction({ kind }));
  if (shadowed.length > 0) throw new Error(`${app.name}: its actions ${shadowed.join(', ')} are the runtime's own`);
  const streams = [app.durableEnds?.stream, app.timers?.stream].filter((s): s is StreamName => s !== undefined);
  await ensureStreams(options.jsm, streams);
  const records = new CallRecords(await openKv(nc, app.bucket, { ttl: RECORD_TTL_MS }), app.record, (callRef) => eraseKvKey(options.jsm, app.bucket, callRef));
  const runner = new Runner(options, records);
  const perCall = new KeyedMutex();
  const subscriptions: Subscription[] = app.apps.flatMap((name) =>
    subscribeCallEvents(nc, {
      app: name,
      queue: app.queue,
      log,
      perCall,
      handlers: {
        started: (e, taken) => runner.start(e, taken),
        digit: (e) => runner.apply(e.callRef, { kind: 'digit', digit: e.digit }),
        playbackFinished: (e) =>
          runner.apply(e.callRef, { kind: 'playback-finished', playbackId: e.playbackId, reason: e.reason, recordingStartedAt: e.recordingStartedAt }),
        recordingFinished: (e) =>
          runner.apply(e.callRef, e.reason === 'silence' ? { kind: 'silence', speech: e.speech ?? false } : { kind: 'recording-limit' }),
        ...(app.durableEnds ? {} : { ended: (e) => runner.apply(e.callRef, { kind: 'ended' }) }),
      },
    }),
  );
  const workers: { stop(): Promise<void> }[] = [];
  if (app.durableEnds) {
    workers.push(
      await startDurableWorker({
        js: options.js,
        jsm: options.jsm,
        stream: STREAMS[app.durableEnds.stream].name,
        consumer: app.durableEnds.consumer,
        filterSubject: SUBJECTS.call.ended(app.apps[0] as Application),
        concurrency: 16,
        ackWaitMs: 90_000,
        log,
        handle: async (msg) => {
          const event = decodeJson(CallEndedEventSchema, msg.data, 'call ended');
          try {
            await perCall.run(event.callRef, () => runner.apply(event.callRef, { kind: 'ended' }));
            return { kind: 'done' };
          } catch (error) {
            const delayMs = retryDelay(ENDED_RETRY_DELAYS_MS, msg.info.deliveryCount);
            callLogger(log, event.callId).warn(
              { callRef: event.callRef, err: toServiceError(error).message, retryInMs: delayMs },
              'end of call not finished; will retry',
            );
            return { kind: 'retry', delayMs };
          }
        },
      }),
    );
  }
  if (app.timers) {
    workers.push(
      await startDurableWorker({
        js: options.js,
        jsm: options.jsm,
        stream: STREAMS[app.timers.stream].name,
        consumer: app.timers.consumer,
        filterSubject: app.timers.subject,
        concurrency: 64,
        ackWaitMs: 30_000,
        log,
        handle: async (msg) => {
          const timer = decodeJson(CallTimerSchema, msg.data, 'timer');
          const remaining = timer.dueAt - Date.now();
          if (remaining > 0) return { kind: 'retry', delayMs: remaining };
          await perCall.run(timer.callRef, () => runner.apply(timer.callRef, { kind: 'timeout', timerId: timer.timerId }));
          return { kind: 'done' };
        },
      }),
    );
  }
  await nc.flush();
  return {
    async stop() {
      await Promise.all(subscriptions.map((s) => s.drain()));
      for (const worker of workers) await worker.stop();
    },
  };
}

/** Compare-and-set attempts on one event before it is given up (the record kept changing). */
const ATTEMPTS = 10;

class Runner<R extends CallBase, A extends { kind: string }, E extends { kind: string }> {
  readonly #started: Counter<'app'>;

  constructor(
    private readonly options: CallRuntimeOptions<R, A, E>,
    private readonly records: CallRecords<R>,
  ) {
    // One counter for every runtime of the service (voicebox runs two: voicebox and annrecorder).
    const name = 'sipvm_calls_started_total';
    this.#started =
      (options.registry.getSingleMetric(name) as Counter<'app'> | undefined) ??
      new Counter({ name, help: 'Calls taken, by application', labelNames: ['app'], registers: [options.registry] });
  }

  /**
   * A new call: its record is created, signaling is told the call is taken (it answers the caller
   * now), and the first actions run. A start offered again (signaling asks until an instance
   * answers) finds the record and is only answered.
   */
  async start(event: CallStartedEvent, taken: () => void): Promise<void> {
    const { app } = this.options;
    if (!app.apps.includes(event.app)) return;
    const log = callLogger(this.options.log, event.callId).child({ callRef: event.callRef });
    const step = await app.start(event, log);
    if (!step) return;
    if (!(await this.records.create(event.callRef, step.record))) {
      log.debug('call offered again; it is taken already');
      return;
    }
    taken();
    this.#started.inc({ app: event.app });
    await this.#execute(step.record, step.actions, log);
  }

  /**
   * Applies an event: the flow decides on the stored record, the new record is written (compare-
   * and-set; on a conflict it decides again on what the other instance wrote), then the actions
   * run. The call's end is different: its actions run first and the record is deleted only when
   * they worked, so a hand-over that fails is decided and done again when the end is taken again.
   */
  async apply(callRef: string, event: CallEvent | E): Promise<void> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.records.get(callRef, attempt > 0);
      if (!current) return; // not (or no longer) a call of ours
      const log = callLogger(this.options.log, current.record.callId).child({ callRef });
      const step = this.options.app.decide(current.record, event);
      if (event.kind === 'ended') {
        await this.#execute(step.record, step.actions, log, { last: true });
        await this.records.delete(callRef).catch(() => undefined);
        releaseRecordings({ nc: this.options.nc, call: current.record });
        return;
      }
      if (step.actions.length === 0 && step.record === current.record) return;
      if (step.record !== current.record && !(await this.records.replace(callRef, step.record, current.revision))) continue;
      await this.#execute(step.record, step.actions, log);
      return;
    }
    this.options.log.error({ callRef, event: event.kind }, 'call record kept changing; event dropped');
  }

  /**
   * Carries the actions out in order and feeds what they found out back to the flow. A failed one
   * ends the list (the rest assumed it worked) unless the application says to ignore it; one that
   * must not be lost throws, so the event is taken again.
   */
  async #execute(record: R, actions: (A | CallAction)[], log: Logger, options: { last?: boolean } = {}): Promise<void> {
    const context: ActionContext = { nc: this.options.nc, js: this.options.js, call: record, log, timerSubject: this.options.app.timers?.subject };
    const results: (CallEvent | E)[] = [];
    for (const action of actions) {
      try {
        results.push(
          ...(isCallAction(action)
            ? await performWith(CALL_ACTIONS, action, record, context)
            : await performWith(this.options.app.actions, action as A, record, context)),
        );
      } catch (error) {
        const policy = this.options.app.onFailure?.(action, error) ?? defaultPolicy(action);
        const err = toServiceError(error).message;
        if (policy === 'retry') throw error;
        if (policy === 'ignore') {
          log.warn({ action: action.kind, err }, 'call action failed');
          continue;
        }
        log.error({ action: action.kind, err }, 'call action failed; the flow is told');
        results.push({ kind: 'failed', action: action.kind });
        break;
      }
    }
    if (options.last) return; // the call is over: nobody waits for results
    for (const event of results) await this.apply(record.callRef, event);
  }
}

function defaultPolicy(action: { kind: string; discard?: boolean }): FailurePolicy {
  if (action.kind === 'hangup' || (action.kind === 'stop-recording' && action.discard === true)) return 'ignore';
  return 'report';
}
