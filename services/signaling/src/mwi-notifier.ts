/**
 * Mailbox events → MWI NOTIFYs (docs/behaviour.md §7). All signaling instances share one durable consumer of
 * VM_MAILBOX with explicit acks, so each event is handled once and survives an instance dying
 * mid-way. An event becomes a NOTIFY in every live SUBSCRIBE dialog of the mailbox, and, for a
 * mailbox without one, an unsolicited NOTIFY through the configured proxy (SEMS style). A redelivered event asks storage for the
 * counts of now, so a late retry never turns a lamp back to an older state.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import {
  decodeJson,
  ensureStreams,
  MailboxChangedEventSchema,
  request,
  StorageApi,
  STREAMS,
  SUBJECTS,
  type Mailbox,
  type MailboxCounts,
} from '@sipvm/contracts';
import { retryDelay, startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import { Counter, type Registry } from 'prom-client';
import type { SignalingConfig } from './config.js';
import { MESSAGE_SUMMARY_EVENT, MESSAGE_SUMMARY_TYPE, mailboxUri, messageSummary } from './mwi-summary.js';
import type { MwiSubscriptions } from './mwi-subscriptions.js';
import { sendRequest, type Srf } from './sip-stack.js';

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
  /** False while drachtio-server is away: events wait instead of failing. */
  sipUp: () => boolean;
}

export async function startMwiNotifier(options: MwiNotifierOptions): Promise<{ stop(): Promise<void> }> {
  const sent = new Counter({
    name: 'sipvm_mwi_notifies_total',
    help: 'MWI NOTIFYs by kind (unsolicited, subscription) and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [options.registry],
  });
  const jsm = await jetstreamManager(options.nc);
  await ensureStreams(jsm, ['mailbox']);

  const unsolicited = async (mailbox: Mailbox, counts: MailboxCounts): Promise<boolean> => {
    const proxy = options.config.MWI_PROXY;
    if (proxy === undefined) return true;
    // A phone that subscribed hears it in its dialog; the copy through the proxy would reach it
    // too, outside any dialog it knows, and it would answer 481.
    if (options.subscriptions.hasSubscriber(mailbox)) {
      sent.inc({ kind: 'unsolicited', outcome: 'subscribed' });
      return true;
    }
    const target = mailboxUri(options.config.MWI_TARGET_TEMPLATE, mailbox);
    try {
      const response = await sendRequest(options.srf, target, {
        method: 'NOTIFY',
        proxy,
        headers: {
          From: `<${target}>`,
          To: `<${target}>`,
          Event: MESSAGE_SUMMARY_EVENT,
          'Subscription-State': 'active',
          'Content-Type': MESSAGE_SUMMARY_TYPE,
        },
        body: messageSummary(target, counts),
      });
      // 4xx: the proxy knows no such user or phone; retrying will not change that.
      const ok = response.status < 500 && response.status !== 408;
      sent.inc({ kind: 'unsolicited', outcome: ok ? String(response.status) : 'retry' });
      // No phone registered (404, 480) or one that takes no unsolicited NOTIFY (481, 489): an
      // everyday answer, counted, not a problem to log.
      if (response.status >= 300) {
        const everyday = [404, 480, 481, 489].includes(response.status);
        options.log[everyday ? 'debug' : 'info']({ mailbox, status: response.status, reason: response.reason }, 'unsolicited NOTIFY refused');
      }
      return ok;
    } catch (error) {
      sent.inc({ kind: 'unsolicited', outcome: 'error' });
      options.log.warn({ mailbox, err: String(error) }, 'unsolicited NOTIFY failed');
      return false;
    }
  };

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
    const results = await Promise.all([unsolicited(event.mailbox, counts), options.subscriptions.notifyMailbox(event.mailbox, counts)]);
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
