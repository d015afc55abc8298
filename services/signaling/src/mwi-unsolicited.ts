/**
 * Unsolicited MWI (SEMS style, docs/behaviour.md §7): a NOTIFY through the configured proxy
 * (`MWI_PROXY`) to the mailbox's account, whenever its counts change — and again when the lamp
 * could have been lost: at an interval (`MWI_REFRESH_INTERVAL_MS`), and at once when the proxy
 * says a phone of the mailbox registered (mwi-registrations.ts). A phone restarted or roamed
 * shows the right lamp without waiting for the next message.
 *
 * Which lamps to refresh is kept in the KV bucket vm-mwi-lamps: a mailbox whose lamp is on, or was
 * turned off since the last refresh (`lamp.<mailbox>`). A lamp that went out is refreshed once
 * more, then forgotten. An entry is written when a mailbox's lamp changes, not on every message:
 * most mailbox events cost no write. One signaling instance refreshes at a time (a lease in the bucket).
 * Sequence: docs/flows/mwi.md
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import {
  BUCKETS,
  isRevisionConflict,
  MailboxCountsSchema,
  MailboxSchema,
  openKv,
  request,
  StorageApi,
  toServiceError,
  untilAvailable,
  type Mailbox,
  type MailboxCounts,
} from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import type { Counter } from 'prom-client';
import type { SignalingConfig } from './config.js';
import { MESSAGE_SUMMARY_EVENT, MESSAGE_SUMMARY_TYPE, mailboxUri, messageSummary } from './mwi-summary.js';
import { sendRequest, type Srf } from './sip-stack.js';

const LampSchema = z.strictObject({ mailbox: MailboxSchema, counts: MailboxCountsSchema, at: z.string() });
const LeaseSchema = z.strictObject({ holder: z.string(), until: z.number() });
const PATIENCE_MS = 10_000;
/** Mailboxes whose lamp this instance remembers (a message into a lit mailbox writes nothing). */
const REMEMBERED = 100_000;

export interface UnsolicitedMwiOptions {
  srf: Srf;
  nc: NatsConnection;
  log: Logger;
  config: Pick<SignalingConfig, 'MWI_PROXY' | 'MWI_TARGET_TEMPLATE' | 'MWI_REFRESH_INTERVAL_MS'>;
  /** This instance's name, in the refresh's lease. */
  instanceId: string;
  sent: Counter<'kind' | 'outcome'>;
  /**
   * Whether a phone holds a subscription for the mailbox: it hears the lamp in its dialog, and the
   * copy through the proxy would reach it outside any dialog it knows (it would answer 481).
   */
  hasSubscriber: (mailbox: Mailbox) => boolean;
}

export class UnsolicitedMwi {
  readonly #lit = new Map<string, boolean>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<unknown> | undefined;

  private constructor(
    private readonly options: UnsolicitedMwiOptions,
    private readonly kv: KV,
  ) {}

  static async open(options: UnsolicitedMwiOptions): Promise<UnsolicitedMwi> {
    const kv = await openKv(options.nc, BUCKETS.mwiLamps, { history: 1, description: 'mailboxes whose MWI lamp is refreshed' });
    const mwi = new UnsolicitedMwi(options, kv);
    const every = options.config.MWI_REFRESH_INTERVAL_MS;
    if (options.config.MWI_PROXY !== undefined && every > 0) {
      // Looked at more often than the interval, so a refresh is late by a fraction of it at most
      // when the instance that held the lease goes away.
      mwi.#timer = setInterval(() => mwi.#tick(), Math.max(1_000, Math.floor(every / 4)));
    }
    return mwi;
  }

  get enabled(): boolean {
    return this.options.config.MWI_PROXY !== undefined;
  }

  /** Sends the mailbox's lamp; true when it went out (or there is no proxy to send it to). */
  async notify(mailbox: Mailbox, counts: MailboxCounts): Promise<boolean> {
    const proxy = this.options.config.MWI_PROXY;
    if (proxy === undefined) return true;
    if (this.options.hasSubscriber(mailbox)) {
      this.options.sent.inc({ kind: 'unsolicited', outcome: 'subscribed' });
      return true;
    }
    const target = mailboxUri(this.options.config.MWI_TARGET_TEMPLATE, mailbox);
    let ok: boolean;
    try {
      const response = await sendRequest(this.options.srf, target, {
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
      ok = response.status < 500 && response.status !== 408;
      this.options.sent.inc({ kind: 'unsolicited', outcome: ok ? String(response.status) : 'retry' });
      // No phone registered (404, 480) or one that takes no unsolicited NOTIFY (481, 489): an
      // everyday answer, counted, not a problem to log.
      if (response.status >= 300) {
        const everyday = [404, 480, 481, 489].includes(response.status);
        this.options.log[everyday ? 'debug' : 'info']({ mailbox, status: response.status, reason: response.reason }, 'unsolicited NOTIFY refused');
      }
    } catch (error) {
      this.options.sent.inc({ kind: 'unsolicited', outcome: 'error' });
      this.options.log.warn({ mailbox, err: String(error) }, 'unsolicited NOTIFY failed');
      return false;
    }
    await this.#remember(mailbox, counts).catch((error: unknown) =>
      this.options.log.warn({ mailbox, err: String(error) }, 'cannot keep the lamp for its refresh'),
    );
    return ok;
  }

  /** The mailbox's lamp as storage counts it now, sent (a phone registered). */
  async notifyNow(mailbox: Mailbox, log: Logger): Promise<void> {
    let counts: MailboxCounts;
    try {
      counts = (await request(this.options.nc, StorageApi.countMailbox, { mailbox })).counts;
    } catch (error) {
      log.warn({ mailbox, err: toServiceError(error).message }, 'mailbox counts unavailable; no NOTIFY');
      return;
    }
    await this.notify(mailbox, counts);
  }

  /**
   * Every lamp kept, sent again as storage counts it now; lamps that are out are sent once more
   * and forgotten. Only the instance that holds the lease does it.
   */
  async refresh(): Promise<{ sent: number }> {
    if (!(await this.#lease())) return { sent: 0 };
    let sent = 0;
    for await (const key of await this.kv.keys('lamp.>')) {
      const entry = await this.kv.get(key);
      const lamp = entry?.operation === 'PUT' ? LampSchema.safeParse(entry.json()) : undefined;
      if (!lamp?.success) continue;
      const age = Date.now() - Date.parse(lamp.data.at);
      if (age < this.options.config.MWI_REFRESH_INTERVAL_MS / 2) continue; // sent lately (a change): not yet
      let counts: MailboxCounts;
      try {
        counts = (await request(this.options.nc, StorageApi.countMailbox, { mailbox: lamp.data.mailbox })).counts;
      } catch {
        continue; // storage away: the next refresh
      }
      const wasOut = lamp.data.counts.new === 0;
      if (await this.notify(lamp.data.mailbox, counts)) sent++;
      if (wasOut && counts.new === 0) {
        this.#lit.delete(key);
        await this.kv.delete(key);
      }
    }
    if (sent > 0) this.options.log.info({ sent }, 'MWI lamps refreshed');
    return { sent };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** One refresh at a time: a long one (many lamps) is not overtaken by the next tick. */
  #tick(): void {
    if (this.#refreshing) return;
    this.#refreshing = this.refresh()
      .catch((error: unknown) => this.options.log.warn({ err: String(error) }, 'MWI refresh failed; the next one tries again'))
      .finally(() => (this.#refreshing = undefined));
  }

  /** Keeps the lamp when it changed (or is not known here), with the time it was sent. */
  async #remember(mailbox: Mailbox, counts: MailboxCounts): Promise<void> {
    if (this.options.config.MWI_REFRESH_INTERVAL_MS <= 0) return;
    const key = lampKey(mailbox);
    const lit = counts.new > 0;
    if (this.#lit.get(key) === lit) return;
    await untilAvailable(() => this.kv.put(key, JSON.stringify({ mailbox, counts, at: new Date().toISOString() })), { deadlineMs: PATIENCE_MS });
    this.#lit.delete(key);
    this.#lit.set(key, lit);
    if (this.#lit.size > REMEMBERED) this.#lit.delete(this.#lit.keys().next().value as string);
  }

  async #lease(): Promise<boolean> {
    const now = Date.now();
    const mine = { holder: this.options.instanceId, until: now + this.options.config.MWI_REFRESH_INTERVAL_MS };
    try {
      const current = await this.kv.get('refresh.lease');
      if (!current || current.operation !== 'PUT') {
        await this.kv.create('refresh.lease', JSON.stringify(mine));
        return true;
      }
      const lease = LeaseSchema.safeParse(current.json());
      if (lease.success && lease.data.holder !== mine.holder && lease.data.until > now) return false;
      // Held by this instance: only when the interval has passed since it last refreshed.
      if (lease.success && lease.data.holder === mine.holder && lease.data.until > now) return false;
      await this.kv.update('refresh.lease', JSON.stringify(mine), current.revision);
      return true;
    } catch (error) {
      if (isRevisionConflict(error) || /exists|wrong last sequence/i.test(String(error))) return false;
      throw error;
    }
  }
}

const lampKey = (mailbox: Mailbox): string => `lamp.${createHash('sha256').update(`${mailbox.did}\n${mailbox.uid}`).digest('base64url').slice(0, 22)}`;
