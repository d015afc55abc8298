/**
 * A page of new or saved messages, as the mailbox was when the session began: one listing request
 * for a page, so a session costs the same into a mailbox of thousands of messages as into one of ten.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, StorageApi } from '@sipvm/contracts';
import type { ActionContext } from '@sipvm/service';
import { entryOf } from '../flow.js';
import { PAGE_SIZE, type MailboxEntry, type Segment, type VoiceboxAction, type VoiceboxEvent } from '../events.js';
import type { VoiceboxCall } from '../app.js';

export type ListingOrder = 'newest-first' | 'oldest-first';

export async function readPage(
  nc: NatsConnection,
  call: Pick<VoiceboxCall, 'mailbox' | 'callId'>,
  order: ListingOrder,
  ask: Omit<Extract<VoiceboxAction, { kind: 'load-page' }>, 'kind'>,
): Promise<{ segment: Segment; page: MailboxEntry[]; more: boolean; direction: 'after' | 'before' }> {
  const { start } = ask;
  const backwards = 'before' in start || ('from' in start && start.from === 'end');
  // One more than a page: whether there are more beyond it.
  const { messages } = await request(
    nc,
    StorageApi.listMailbox,
    {
      mailbox: call.mailbox,
      limit: PAGE_SIZE + 1,
      filter: ask.segment,
      heard: ask.heard,
      order,
      // Urgent new messages first (docs/behaviour.md §4); saved ones in their order.
      urgentFirst: ask.segment === 'new',
      ...('after' in start ? { after: start.after } : {}),
      ...('before' in start ? { before: start.before } : {}),
      ...('from' in start && start.from === 'end' ? { fromEnd: true } : {}),
    },
    { callId: call.callId },
  );
  const more = messages.length > PAGE_SIZE;
  const page = backwards ? messages.slice(more ? 1 : 0) : messages.slice(0, PAGE_SIZE);
  return { segment: ask.segment, page: page.map((m) => entryOf(m, ask.segment === 'new')), more, direction: backwards ? 'before' : 'after' };
}

export const loadPage =
  (nc: NatsConnection, order: ListingOrder) =>
  async (action: Extract<VoiceboxAction, { kind: 'load-page' }>, call: VoiceboxCall, _context: ActionContext): Promise<VoiceboxEvent[]> => {
    const { segment, page, more, direction } = await readPage(nc, call, order, action);
    return [{ kind: 'page-loaded', segment, direction, page, more }];
  };
