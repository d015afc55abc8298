/**
 * The mailbox at the start of a session (and at "start over"): its counts, kept by storage, and
 * the first page of new messages — or of saved ones when there are no new. The session pages
 * through the mailbox as it was at this moment (`asOf`).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, StorageApi } from '@sipvm/contracts';
import type { ActionContext } from '@sipvm/service';
import type { VoiceboxEvent } from '../events.js';
import type { VoiceboxCall } from '../app.js';
import { readPage, type ListingOrder } from './load-page.js';

/**
 * Read markers are written by storage's clock, the session's start by this instance's: a margin
 * keeps a message heard a moment before the session began (clocks apart) from counting as new.
 */
const CLOCK_MARGIN_MS = 2_000;

export const loadMailbox =
  (nc: NatsConnection, order: ListingOrder) =>
  async (_action: unknown, call: VoiceboxCall, context: ActionContext): Promise<VoiceboxEvent[]> => {
    const asOf = new Date(Date.now() - CLOCK_MARGIN_MS).toISOString();
    // The first page is read as the mailbox is now: nothing was heard in this session yet, and
    // storage need not look at when messages were heard (which costs it a look at each one).
    const [{ counts }, fresh] = await Promise.all([
      request(nc, StorageApi.countMailbox, { mailbox: call.mailbox }, { callId: call.callId }),
      readPage(nc, call, order, { segment: 'new', start: { from: 'start' } }),
    ]);
    const first = fresh.page.length > 0 ? fresh : await readPage(nc, call, order, { segment: 'saved', start: { from: 'start' } });
    context.log.debug({ counts, segment: first.segment, page: first.page.length }, 'mailbox read');
    return [{ kind: 'mailbox-loaded', counts: { new: counts.new, saved: counts.saved }, asOf, segment: first.segment, page: first.page, more: first.more }];
  };
