/**
 * Mailbox events → MWI NOTIFYs (docs/behaviour.md §7). All signaling instances share one durable consumer of
 * VM_MAILBOX with explicit acks, so each event is handled once and survives an instance dying
 * mid-way. An event becomes a NOTIFY in every live SUBSCRIBE dialog of the mailbox, and, for a
 * mailbox without one, an unsolicited NOTIFY through the configured proxy (SEMS style,
 * mwi-unsolicited.ts). A redelivered event asks storage for the
 * counts of now, so a late retry never turns a lamp back to an older state.
 * Sequence: docs/flows/mwi.md
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { decodeJson, ensureStreams, MailboxChangedEventSchema, request, StorageApi, STREAMS, SUBJECTS } from '@sipvm/contracts';
import { retryDelay, startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import type { Counter, Registry } from 'prom-client';
import type { SignalingConfig } from './config.js';
import type { MwiSubscriptions } from './mwi-subscriptions.js';
import type { UnsolicitedMwi } from './mwi-unsolicited.js';
import type { Srf } from './sip-stack.js';

const RETRY_SCHEDULE_MS = [2_000, 10_000, 30_000, 60_000];
/** After this many deliveries an event is dropped (the next change of the mailbox corrects the lamp). */
const MAX_DELIVERIES = 8;

export interface MwiNotifierOptions {
  srf: Srf;
  nc: NatsConnection;
  log: Logger;
  registry: Registry;
  config: SignalingConfig;
  subscriptions: MwiSubscriptions;
  /** NOTIFYs through the proxy (and the lamps refreshed). */
  unsolicited: UnsolicitedMwi;
  /** Counts every NOTIFY sent, by kind and outcome. */
  sent: Counter<'kind' | 'outcome'>;
  /** False while drachtio-server is away: events wait instead of failing. */
  sipUp: () => boolean;
}

export async function startMwiNotifier(options: MwiNotifierOptions): Promise<{ stop(): Promise<void> }> {
  const { sent } = options;
  const jsm = await jetstreamManager(options.nc);
  await ensureStreams(jsm, ['mailbox']);

  const handle = async (msg: JsMsg): Promise<WorkOutcome> => {
    let event;
    try {
      event = decodeJson(MailboxChangedEventSchema, msg.data, SUBJECTS.mailbox.changed);
    } catch (error) {
      options.log.error({ err: String(error), seq: msg.seq }, 'bad mailbox event dropped');
      return { kind: 'drop', reason: 'bad mailbox event' };
    }
    const deliveries = msg.info.deliveryCount;
    options.log.debug({ eventId: event.eventId, mailbox: event.mailbox, change: event.change, counts: event.counts, deliveries }, 'mailbox event');
    if (!options.sipUp()) return { kind: 'retry', delayMs: retryDelay(RETRY_SCHEDULE_MS, 1) };
    let counts = event.counts;
    if (deliveries > 1) {
      try {
        counts = (await request(options.nc, StorageApi.countMailbox, { mailbox: event.mailbox })).counts;
      } catch {
        // storage away: the event's own counts are the best there is
      }
    }
    const results = await Promise.all([options.unsolicited.notify(event.mailbox, counts), options.subscriptions.notifyMailbox(event.mailbox, counts)]);
    sent.inc({ kind: 'subscription', outcome: results[1] ? 'ok' : 'retry' });
    if (results.every(Boolean)) return { kind: 'done' };
    if (deliveries >= MAX_DELIVERIES) {
      options.log.error({ eventId: event.eventId, mailbox: event.mailbox, deliveries }, 'MWI NOTIFY given up; the next mailbox change corrects it');
      return { kind: 'drop', reason: 'MWI NOTIFY failed too often' };
    }
    return { kind: 'retry', delayMs: retryDelay(RETRY_SCHEDULE_MS, deliveries) };
  };

  return startDurableWorker({
    js: jetstream(options.nc),
    jsm,
    stream: STREAMS.mailbox.name,
    consumer: options.config.MWI_CONSUMER,
    filterSubject: SUBJECTS.mailbox.changed,
    deliverNewOnly: true,
    concurrency: options.config.MWI_CONCURRENCY,
    ackWaitMs: 60_000,
    log: options.log,
    handle,
  });
}
