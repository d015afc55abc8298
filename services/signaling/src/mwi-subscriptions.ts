/**
 * SUBSCRIBE/NOTIFY for `message-summary` (docs/behaviour.md §7, RFC 3265/3842). A subscription is a KV record
 * (contracts `MwiSubscription`) holding everything a NOTIFY needs, so any signaling instance can
 * accept a refresh or notify the phone. Expires is honoured (423 below the minimum, cut to the
 * maximum), `Expires: 0` ends it with a final NOTIFY, and the first NOTIFY carries the counts
 * storage reports now.
 * Sequence: docs/flows/mwi.md
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import {
  decodeJson,
  describeIssues,
  encodeJson,
  MWI_SUBSCRIPTIONS_BUCKET,
  MwiApi,
  MwiSubscriptionSchema,
  request,
  StorageApi,
  toServiceError,
  type Mailbox,
  type MailboxCounts,
  type MwiSubscription,
  openKv,
} from '@sipvm/contracts';
import { callLogger, type Logger } from '@sipvm/service';
import { AppParamError, printable } from './app-params.js';
import { mailboxOfRequest } from './mwi-mailbox.js';
import type { SignalingConfig } from './config.js';
import { MESSAGE_SUMMARY_EVENT, MESSAGE_SUMMARY_TYPE, mailboxUri, messageSummary } from './mwi-summary.js';
import { contextOf } from './request-context.js';
import {
  header,
  NoSuchDialogError,
  reply,
  requestInStackDialog,
  sendRequest,
  splitHeaderList,
  tagOf,
  uriOf,
  withoutTag,
  type FinalResponse,
  type SipRequest,
  type SipResponse,
  type Srf,
} from './sip-stack.js';
import type { TrustPolicy } from './trust.js';

/** A key for KV: `<mailbox hash>.<subscription hash>`, both safe tokens. */
const hash = (...parts: string[]) =>
  createHash('sha256')
    .update(parts.join('\0'))
    .digest('base64url')
    .slice(0, 24)
    .replace(/[^A-Za-z0-9]/g, 'x');
const mailboxKey = (mailbox: Mailbox) => hash(mailbox.did, mailbox.uid);
const subscriptionKey = (callId: string, remoteTag: string) => hash(callId, remoteTag);

export interface MwiSubscriptionsOptions {
  srf: Srf;
  nc: NatsConnection;
  log: Logger;
  config: SignalingConfig;
  instanceId: string;
  trust: TrustPolicy;
  unavailable: () => string | undefined;
}

/**
 * Which subscriptions exist, by mailbox and by dialog, as this instance has seen them in the KV
 * bucket (a watch, started before a first listing, so no key is ever missing; one that is gone
 * already costs a read that finds nothing). Every mailbox event asks it instead of listing the
 * bucket: most mailboxes have no subscriber, and a listing per new message was a JetStream
 * consumer per message.
 */
class SubscriptionIndex {
  readonly #byMailbox = new Map<string, Set<string>>();
  readonly #byDialog = new Map<string, string>();

  add(key: string): void {
    const [mailbox, dialog] = key.split('.');
    if (mailbox === undefined || dialog === undefined) return;
    let keys = this.#byMailbox.get(mailbox);
    if (!keys) this.#byMailbox.set(mailbox, (keys = new Set()));
    keys.add(key);
    this.#byDialog.set(dialog, key);
  }

  remove(key: string): void {
    const [mailbox, dialog] = key.split('.');
    if (mailbox === undefined || dialog === undefined) return;
    const keys = this.#byMailbox.get(mailbox);
    keys?.delete(key);
    if (keys?.size === 0) this.#byMailbox.delete(mailbox);
    if (this.#byDialog.get(dialog) === key) this.#byDialog.delete(dialog);
  }

  ofMailbox(mailbox: string): string[] {
    return [...(this.#byMailbox.get(mailbox) ?? [])];
  }

  ofDialog(dialog: string): string | undefined {
    return this.#byDialog.get(dialog);
  }
}

export class MwiSubscriptions {
  readonly #options: MwiSubscriptionsOptions;
  readonly #kv: KV;
  readonly #index = new SubscriptionIndex();

  private constructor(options: MwiSubscriptionsOptions, kv: KV) {
    this.#options = options;
    this.#kv = kv;
  }

  static async open(options: MwiSubscriptionsOptions): Promise<MwiSubscriptions> {
    // Records carry their own expiry; the bucket's age limit only removes what nobody refreshed.
    const kv = await openKv(options.nc, MWI_SUBSCRIPTIONS_BUCKET, { ttl: options.config.MWI_MAX_EXPIRES * 2_000, history: 1 });
    const subscriptions = new MwiSubscriptions(options, kv);
    await subscriptions.#follow();
    return subscriptions;
  }

  async #follow(): Promise<void> {
    const changes = await this.#kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of changes) {
        if (entry.operation === 'PUT') this.#index.add(entry.key);
        else this.#index.remove(entry.key);
      }
    })();
    for await (const key of await this.#kv.keys()) this.#index.add(key);
  }

  /**
   * Handles a SUBSCRIBE, new or in-dialog, after its steps (initLocals, trustSource: only a proxy
   * may learn a mailbox's counts); never throws.
   */
  async onSubscribe(req: SipRequest, res: SipResponse): Promise<void> {
    const { log } = contextOf(req);
    try {
      const event = (header(req, 'Event') ?? '').split(';')[0]?.trim().toLowerCase();
      if (event !== MESSAGE_SUMMARY_EVENT) return reply(res, 489, 'Bad Event', { 'Allow-Events': MESSAGE_SUMMARY_EVENT });
      const down = this.#options.unavailable();
      if (down) return reply(res, 503, `Service Unavailable (${down})`, { 'Retry-After': '5' });

      const requested = header(req, 'Expires');
      let expires = requested === undefined ? (this.#options.config.MWI_DEFAULT_EXPIRES ?? this.#options.config.MWI_MAX_EXPIRES) : Number(requested.trim());
      if (!Number.isInteger(expires) || expires < 0) return reply(res, 400, 'Bad Request (Expires)');
      if (expires > 0 && expires < this.#options.config.MWI_MIN_EXPIRES) {
        return reply(res, 423, 'Interval Too Brief', { 'Min-Expires': String(this.#options.config.MWI_MIN_EXPIRES) });
      }
      expires = Math.min(expires, this.#options.config.MWI_MAX_EXPIRES);

      const callId = req.get('Call-ID');
      const remoteTag = tagOf(req.get('From') ?? '');
      if (remoteTag === undefined) return reply(res, 400, 'Bad Request (From tag missing)');
      const inDialog = tagOf(req.get('To') ?? '') !== undefined;
      const key = inDialog ? this.#findKey(callId, remoteTag) : undefined;
      if (inDialog && key === undefined) return reply(res, 481, 'Subscription Does Not Exist');

      // Everything the record holds is checked before the 200: a subscription is stored once accepted.
      const checked = (candidate: MwiSubscription) => {
        const parsed = MwiSubscriptionSchema.safeParse(candidate);
        if (!parsed.success) reply(res, 400, `Bad Request (${printable(describeIssues(parsed.error), 80)})`);
        return parsed.success ? parsed.data : undefined;
      };
      let record: MwiSubscription;
      if (key !== undefined) {
        const existing = await this.#get(key);
        if (!existing) return reply(res, 481, 'Subscription Does Not Exist');
        const contact = req.has('Contact') ? uriOf(req.get('Contact')) : '';
        const refreshed = checked({
          ...existing.record,
          expiresAt: new Date(Date.now() + expires * 1000).toISOString(),
          ...(contact ? { remoteTarget: contact } : {}),
        });
        if (!refreshed) return;
        record = refreshed;
        reply(res, 200, 'OK', { Expires: String(expires) });
      } else {
        const mailbox = this.#mailboxOf(req, res);
        if (!mailbox) return;
        const contact = req.has('Contact') ? uriOf(req.get('Contact')) : '';
        if (!contact) return reply(res, 400, 'Bad Request (Contact missing)');
        const candidate = checked({
          mailbox,
          callId,
          localTag: 'chosen-by-drachtio',
          remoteTag,
          localUri: withoutTag(req.get('To')),
          remoteUri: withoutTag(req.get('From')),
          remoteTarget: contact,
          routeSet: req.has('Record-Route') ? splitHeaderList(req.get('Record-Route')) : [],
          cseq: 0,
          expiresAt: new Date(Date.now() + expires * 1000).toISOString(),
          instance: this.#options.instanceId,
        });
        if (!candidate) return;
        let accepted: { localTag: string; dialogId: string | undefined };
        try {
          accepted = await sendWithTag(res, expires);
        } catch (error) {
          // drachtio-server could not send the 200 (a request it cannot answer): no subscription.
          log.warn({ err: String(error) }, 'SUBSCRIBE could not be answered; not stored');
          return;
        }
        record = { ...candidate, localTag: accepted.localTag, ...(accepted.dialogId !== undefined ? { dialogId: accepted.dialogId } : {}) };
      }
      const recordKey = key ?? `${mailboxKey(record.mailbox)}.${subscriptionKey(callId, remoteTag)}`;
      if (expires === 0) {
        await this.#kv.delete(recordKey);
        log.info({ mailbox: record.mailbox }, 'MWI subscription ended by the subscriber');
        const counts = await this.#counts(record.mailbox, log);
        const inDialog = record.instance === this.#options.instanceId && record.dialogId !== undefined;
        const sent = inDialog ? await this.#notifyInDialog(recordKey, record, counts, 'terminated;reason=timeout') : undefined;
        if (sent === undefined) await this.#notify(recordKey, record, counts, 'terminated;reason=timeout');
        return;
      }
      await this.#kv.put(recordKey, encodeJson(record));
      log.info({ mailbox: record.mailbox, expires, refresh: key !== undefined }, 'MWI subscription accepted');
      await this.notifyKey(recordKey, await this.#counts(record.mailbox, log));
    } catch (error) {
      log.error({ err: String(error), stack: (error as Error).stack }, 'SUBSCRIBE handling failed');
      reply(res, 500, 'Server Internal Error');
    }
  }

  /** NOTIFYs every live subscription of a mailbox; true when all went out (or there were none). */
  async notifyMailbox(mailbox: Mailbox, counts: MailboxCounts): Promise<boolean> {
    let allSent = true;
    for (const key of this.#index.ofMailbox(mailboxKey(mailbox))) {
      if (!(await this.notifyKey(key, counts))) allSent = false;
    }
    return allSent;
  }

  /** Whether any live subscription of this mailbox is known (its phones need no unsolicited NOTIFY). */
  hasSubscriber(mailbox: Mailbox): boolean {
    return this.#index.ofMailbox(mailboxKey(mailbox)).length > 0;
  }

  /**
   * NOTIFYs one subscription; removes it when expired or gone at the phone. The dialog lives in the
   * drachtio-server of the instance that accepted it, and only there does a NOTIFY follow the
   * route set: another instance asks that one. When it is gone (its node failed), the NOTIFY goes
   * out of the dialog from here, to the phone's Contact, with the next CSeq the record reserves.
   */
  async notifyKey(key: string, counts: MailboxCounts | undefined): Promise<boolean> {
    const current = await this.#get(key);
    if (!current) return true;
    const { record } = current;
    if (record.instance !== this.#options.instanceId && record.dialogId !== undefined) {
      try {
        return (await request(this.#options.nc, MwiApi.notify(record.instance), { key, ...(counts ? { counts } : {}) }, { callId: record.callId })).sent;
      } catch (error) {
        const failure = toServiceError(error);
        if (failure.kind !== 'service-unavailable') {
          callLogger(this.#options.log, record.callId).warn(
            { instance: record.instance, err: failure.message },
            "MWI NOTIFY not sent by the dialog's instance",
          );
          return false;
        }
        // Nobody answers for that instance: its node is gone, and the dialog with it.
      }
    }
    return this.notifyHere(key, counts);
  }

  /** NOTIFYs one subscription from this instance: in the dialog when its drachtio-server holds it. */
  async notifyHere(key: string, counts: MailboxCounts | undefined): Promise<boolean> {
    const current = await this.#get(key);
    if (!current) return true;
    const remaining = Math.floor((Date.parse(current.record.expiresAt) - Date.now()) / 1000);
    if (remaining <= 0) {
      await this.#kv.delete(key);
      return true;
    }
    const state = `active;expires=${remaining}`;
    if (current.record.instance === this.#options.instanceId && current.record.dialogId !== undefined) {
      const sent = await this.#notifyInDialog(key, current.record, counts, state);
      if (sent !== undefined) return sent;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const latest = attempt === 0 ? current : await this.#get(key);
      if (!latest) return true;
      const next = { ...latest.record, cseq: latest.record.cseq + 1 };
      try {
        await this.#kv.update(key, encodeJson(next), latest.revision);
      } catch {
        continue; // another instance notified in between: take its CSeq
      }
      return this.#notify(key, next, counts, state);
    }
    return false;
  }

  /**
   * A NOTIFY in the dialog drachtio-server holds; the CSeq it chose is kept in the record, so a
   * NOTIFY from another instance later goes on from there. Undefined when drachtio-server no
   * longer holds the dialog (restarted): then it goes out of the dialog.
   */
  async #notifyInDialog(key: string, record: MwiSubscription, counts: MailboxCounts | undefined, state: string): Promise<boolean | undefined> {
    const log = callLogger(this.#options.log, record.callId);
    const headers: Record<string, string> = { Event: MESSAGE_SUMMARY_EVENT, 'Subscription-State': state };
    if (counts) headers['Content-Type'] = MESSAGE_SUMMARY_TYPE;
    let response;
    try {
      const account = mailboxUri(this.#options.config.MWI_TARGET_TEMPLATE, record.mailbox);
      response = await requestInStackDialog(this.#options.srf, record.dialogId ?? '', record.remoteTarget, {
        method: 'NOTIFY',
        headers,
        ...(counts ? { body: messageSummary(account, counts) } : {}),
      });
    } catch (error) {
      if (error instanceof NoSuchDialogError) {
        log.info('drachtio-server no longer holds the MWI dialog; NOTIFY goes outside it');
        return undefined;
      }
      log.warn({ err: String(error) }, 'NOTIFY failed');
      return false;
    }
    if (response.cseq !== undefined) await this.#keepCseq(key, response.cseq);
    return this.#answered(key, record, response);
  }

  /** Raises the record's CSeq to one a NOTIFY went out with (never lowers it). */
  async #keepCseq(key: string, cseq: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.#get(key);
      if (!current || current.record.cseq >= cseq) return;
      try {
        await this.#kv.update(key, encodeJson({ ...current.record, cseq }), current.revision);
        return;
      } catch {
        // changed in between: read again
      }
    }
  }

  /**
   * What a NOTIFY's answer means for the subscription (RFC 6665 §4.2.2): 481, 404 and 410 say the
   * phone has no such subscription (any more), so it is removed — an everyday event, told quietly.
   */
  async #answered(key: string, record: MwiSubscription, response: FinalResponse): Promise<boolean> {
    const log = callLogger(this.#options.log, record.callId);
    if (response.status === 481 || response.status === 404 || response.status === 410) {
      await this.#kv.delete(key);
      log.info({ status: response.status, mailbox: record.mailbox }, 'MWI subscription gone at the phone; removed');
      return true;
    }
    if (response.status >= 300) log.warn({ status: response.status, reason: response.reason }, 'NOTIFY refused');
    return response.status < 500;
  }

  async #notify(key: string, record: MwiSubscription, counts: MailboxCounts | undefined, state: string): Promise<boolean> {
    const log = callLogger(this.#options.log, record.callId);
    const headers: Record<string, string> = {
      'Call-ID': record.callId,
      From: `${record.localUri};tag=${record.localTag}`,
      To: `${record.remoteUri};tag=${record.remoteTag}`,
      CSeq: `${record.cseq + (state.startsWith('terminated') ? 1 : 0)} NOTIFY`,
      Event: MESSAGE_SUMMARY_EVENT,
      'Subscription-State': state,
    };
    if (counts) headers['Content-Type'] = MESSAGE_SUMMARY_TYPE;
    try {
      const account = mailboxUri(this.#options.config.MWI_TARGET_TEMPLATE, record.mailbox);
      const response = await sendRequest(this.#options.srf, record.remoteTarget, {
        method: 'NOTIFY',
        headers,
        ...(counts ? { body: messageSummary(account, counts) } : {}),
      });
      return await this.#answered(key, record, response);
    } catch (error) {
      log.warn({ err: String(error) }, 'NOTIFY failed');
      return false;
    }
  }

  /** The mailbox of a new subscription: P-App-Param uid/did from the proxy, else the R-URI. */
  #mailboxOf(req: SipRequest, res: SipResponse): Mailbox | undefined {
    try {
      return mailboxOfRequest(req, this.#options.trust, this.#options.config);
    } catch (error) {
      if (!(error instanceof AppParamError)) throw error;
      reply(res, 400, `Bad Request (${error.message})`);
      return undefined;
    }
  }

  async #counts(mailbox: Mailbox, log: Logger): Promise<MailboxCounts | undefined> {
    try {
      return (await request(this.#options.nc, StorageApi.countMailbox, { mailbox })).counts;
    } catch (error) {
      // RFC 3265: the first NOTIFY goes out anyway; without a body it says "state unknown".
      log.warn({ err: toServiceError(error).message }, 'mailbox counts unavailable; NOTIFY without body');
      return undefined;
    }
  }

  #findKey(callId: string, remoteTag: string): string | undefined {
    return this.#index.ofDialog(subscriptionKey(callId, remoteTag));
  }

  async #get(key: string): Promise<{ record: MwiSubscription; revision: number } | undefined> {
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== 'PUT') return undefined;
    try {
      return { record: decodeJson(MwiSubscriptionSchema, entry.value, `KV ${key}`), revision: entry.revision };
    } catch (error) {
      this.#options.log.error({ key, err: String(error) }, 'bad MWI subscription record; removed');
      await this.#kv.delete(key);
      return undefined;
    }
  }
}

/** Sends 200 to a new SUBSCRIBE; returns the To tag drachtio-server put on it and its id of the dialog. */
function sendWithTag(res: SipResponse, expires: number): Promise<{ localTag: string; dialogId: string | undefined }> {
  return new Promise((resolve, reject) => {
    res.send(200, 'OK', { headers: { Expires: String(expires) } }, (error: unknown, msg) => {
      if (error) return reject(error instanceof Error ? error : new Error(String(error)));
      const localTag = tagOf(msg.get('To'));
      if (localTag === undefined) return reject(new Error('drachtio-server sent 200 to SUBSCRIBE without a To tag'));
      // drachtio-srf sets it from drachtio-server's answer before this callback.
      const dialogId = (res as { stackDialogId?: unknown }).stackDialogId;
      resolve({ localTag, dialogId: typeof dialogId === 'string' && dialogId !== '' ? dialogId : undefined });
    });
  });
}
