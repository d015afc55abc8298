/**
 * One look at a mailbox's folders (layout.ts): which messages exist, which are read (and, when
 * asked, since when), which urgent — from the listings of the metadata and marker folders, never
 * a read per message — and what the store derives from it: the counts, a message's time.
 */
import type { Mailbox, MailboxCounts } from '@sipvm/contracts';
import type { BlobStore } from './blobs.js';
import { classifyMailboxKey, mailboxPrefix } from './layout.js';

export interface Scan {
  messages: Set<string>;
  /** Read markers by message id, with when the message was saved (listed only for retention). */
  read: Map<string, Date | undefined>;
  urgent: Set<string>;
}

/**
 * Listings of the mailbox's metadata and marker folders (not its audio): which messages exist,
 * which are read, which urgent. Only retention needs to know when a message was read.
 */
export async function scanMailbox(blobs: BlobStore, mailbox: Mailbox, options: { readTimes: boolean }): Promise<Scan> {
  const prefix = mailboxPrefix(mailbox);
  const [metas, readMarkers, urgentMarkers] = await Promise.all([
    blobs.keys(`${prefix}messages/`),
    options.readTimes ? blobs.list(`${prefix}read/`) : blobs.keys(`${prefix}read/`).then((keys) => keys.map((key) => ({ key, modified: undefined }))),
    blobs.keys(`${prefix}urgent/`),
  ]);
  const messages = new Set<string>();
  const read = new Map<string, Date | undefined>();
  const urgent = new Set<string>();
  for (const key of metas) {
    const entry = classifyMailboxKey(prefix, key);
    if (entry?.kind === 'message') messages.add(entry.id);
  }
  for (const marker of readMarkers) {
    const entry = classifyMailboxKey(prefix, marker.key);
    if (entry?.kind === 'read') read.set(entry.id, marker.modified);
  }
  for (const key of urgentMarkers) {
    const entry = classifyMailboxKey(prefix, key);
    if (entry?.kind === 'urgent') urgent.add(entry.id);
  }
  return { messages, read, urgent };
}

export function countsOf({ messages, read, urgent }: Scan): MailboxCounts {
  const counts: MailboxCounts = { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 };
  for (const id of messages) {
    const heard = read.has(id);
    if (heard) counts.saved++;
    else counts.new++;
    if (urgent.has(id)) {
      if (heard) counts.urgentSaved++;
      else counts.urgentNew++;
    }
  }
  return counts;
}

/** When a message was recorded, from its id (message-id.ts: the UTC time comes first). */
export function timeOfId(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])) : 0;
}

/** `work` on every item, at most `limit` at once, results in order. */
export async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
