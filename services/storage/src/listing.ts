/**
 * Which messages a listing returns, in which order (StorageApi.listMailbox), from one scan of the
 * mailbox: pure, so the paging a voicebox session relies on is tested without a store.
 *
 * Order: message ids begin with the recording time, so sorting ids sorts by time. With
 * `urgentFirst` the urgent messages come before the others, each group in `order`. A cursor is a
 * message's place in that order (its id and whether it is urgent), so a page follows the one before
 * it even when messages were deleted, heard or left meanwhile.
 */
import type { ListCursor, MessageId } from '@sipvm/contracts';

export interface ListingScan {
  messages: ReadonlySet<string>;
  /** Read markers by message id, with when the message was heard (when known). */
  read: ReadonlyMap<string, Date | undefined>;
  urgent: ReadonlySet<string>;
}

export interface ListingQuery {
  offset: number;
  limit: number;
  filter: 'all' | 'new' | 'saved';
  /** Messages that still count as new (heard in the session asking). */
  heard: readonly string[];
  order: 'newest-first' | 'oldest-first';
  urgentFirst: boolean;
  after?: ListCursor | undefined;
  before?: ListCursor | undefined;
  fromEnd: boolean;
}

/** A message counts as new when it is unread, or was heard in the session asking (`heard`). */
export function isNew(scan: ListingScan, id: string, heard: ReadonlySet<string>): boolean {
  return !scan.read.has(id) || heard.has(id);
}

/** The ids of one page, and how many messages the filter selects in all. */
export function selectPage(scan: ListingScan, query: ListingQuery): { ids: MessageId[]; total: number } {
  const heard = new Set(query.heard);
  const wanted = [...scan.messages].filter((id) => query.filter === 'all' || (query.filter === 'new') === isNew(scan, id, heard));
  const urgent = (id: string) => query.urgentFirst && scan.urgent.has(id);
  const compare = comparator(query);
  // Sorted as places (ids and urgency), built once: thousands of messages sort without an object per comparison.
  const places = wanted.map((id) => ({ id, urgent: urgent(id) })).sort(compare);
  let selected = places;
  if (query.after) {
    const after = query.after;
    selected = selected.filter((place) => compare(place, after) > 0);
  }
  if (query.before) {
    const before = query.before;
    selected = selected.filter((place) => compare(place, before) < 0);
  }
  const fromEnd = query.fromEnd || (query.before !== undefined && query.after === undefined);
  const page = fromEnd
    ? selected.slice(Math.max(0, selected.length - query.offset - query.limit), selected.length - query.offset)
    : selected.slice(query.offset, query.offset + query.limit);
  return { ids: page.map((place) => place.id as MessageId), total: wanted.length };
}

/** Urgent first (when asked for), then by time in the order asked for; ids break ties. */
function comparator(query: Pick<ListingQuery, 'order' | 'urgentFirst'>): (a: ListCursor, b: ListCursor) => number {
  const sign = query.order === 'newest-first' ? -1 : 1;
  return (a, b) => {
    if (query.urgentFirst && a.urgent !== b.urgent) return a.urgent ? -1 : 1;
    return a.id === b.id ? 0 : sign * (a.id < b.id ? -1 : 1);
  };
}
