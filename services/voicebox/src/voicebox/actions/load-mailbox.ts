/**
 * The mailbox at the start of a session (and at "start over"): its counts, kept by storage, and
 * the first page of new messages — or of saved ones when there are no new. The session pages
 * through the mailbox as it was at this moment: the messages it hears still count as new for it.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, StorageApi } from '@sipvm/contracts';
import type { ActionContext } from '@sipvm/service';
import type { VoiceboxEvent } from '../events.js';
import type { VoiceboxCall } from '../app.js';
import { readPage, type ListingOrder } from './load-page.js';

export const loadMailbox =
  (nc: NatsConnection, order: ListingOrder) =>
  async (_action: unknown, call: VoiceboxCall, context: ActionContext): Promise<VoiceboxEvent[]> => {
    const [{ counts }, fresh] = await Promise.all([
      request(nc, StorageApi.countMailbox, { mailbox: call.mailbox }, { callId: call.callId }),
      readPage(nc, call, order, { segment: 'new', heard: [], start: { from: 'start' } }),
    ]);
    const first = fresh.page.length > 0 ? fresh : await readPage(nc, call, order, { segment: 'saved', heard: [], start: { from: 'start' } });
    context.log.debug({ counts, segment: first.segment, page: first.page.length }, 'mailbox read');
    return [{ kind: 'mailbox-loaded', counts: { new: counts.new, saved: counts.saved }, segment: first.segment, page: first.page, more: first.more }];
  };
