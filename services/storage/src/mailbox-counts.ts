/**
 * How many new and saved (and urgent) messages each mailbox holds, kept as they change instead of
 * counted by listing the mailbox: a deposit into a mailbox of 5,000 messages then costs what it
 * costs into an empty one (listing grew with the mailbox: storage's CPU per deposit rose fourfold
 * past 10,000 messages). The counts live in a NATS KV bucket, one entry per mailbox, changed by
 * compare-and-set, so several storage instances keep them together.
 *
 * They are a record kept beside the mailbox, not the mailbox itself: whenever the two may differ —
 * an entry missing (a mailbox never counted, counts lost with NATS), a change done again after a
 * crash between storing it and counting it, a count that would fall below zero — the mailbox is
 * listed once and the entry set to what the listing says. Listing a mailbox (voicebox, the inbox)
 * sets it too.
 */
import type { KV } from '@nats-io/kv';
import { isRevisionConflict, MailboxCountsSchema, untilAvailable, type Mailbox, type MailboxCounts } from '@sipvm/contracts';

/** Changes of one mailbox by other instances at the same moment: tries before counting afresh. */
const ATTEMPTS = 5;
const PATIENCE_MS = 10_000;
const REMEMBERED = 10_000;

export type CountsChange = Partial<MailboxCounts>;

export class MailboxCountKeeper {
  /** Each mailbox's entry as this instance last read or wrote it (bounded): a change is one write. */
  readonly #known = new Map<string, Entry>();

  constructor(private readonly kv: KV) {}

  /** The counts as kept (read afresh: another instance may have changed them); `recount` when there are none. */
  async get(mailbox: Mailbox, recount: () => Promise<MailboxCounts>): Promise<MailboxCounts> {
    const entry = await this.#read(keyOf(mailbox));
    return entry ? entry.counts : this.set(mailbox, await recount());
  }

  /**
   * Applies a change the mailbox has just undergone (its objects are written): the new counts.
   * Without an entry, or when the change does not fit the entry, the mailbox is counted afresh.
   */
  async change(mailbox: Mailbox, change: CountsChange, recount: () => Promise<MailboxCounts>): Promise<MailboxCounts> {
    const key = keyOf(mailbox);
    let current = this.#known.get(key) ?? (await this.#read(key));
    for (let attempt = 0; attempt < ATTEMPTS && current; attempt++) {
      const next = applied(current.counts, change);
      if (!next) break;
      if (await this.#write(key, next, current.revision)) return next;
      // Another instance changed it meanwhile: again, on what it wrote.
      current = await this.#read(key);
    }
    return this.set(mailbox, await recount());
  }

  /** Sets the counts to what a listing found. */
  async set(mailbox: Mailbox, counts: MailboxCounts): Promise<MailboxCounts> {
    const key = keyOf(mailbox);
    const revision = await untilAvailable(() => this.kv.put(key, JSON.stringify(counts)), { deadlineMs: PATIENCE_MS });
    this.#remember(key, { counts, revision });
    return counts;
  }

  async #read(key: string): Promise<Entry | undefined> {
    const stored = await untilAvailable(() => this.kv.get(key), { deadlineMs: PATIENCE_MS });
    const parsed = stored?.operation === 'PUT' ? MailboxCountsSchema.safeParse(stored.json()) : undefined;
    if (!parsed?.success) {
      this.#known.delete(key);
      return undefined;
    }
    return this.#remember(key, { counts: parsed.data, revision: stored!.revision });
  }

  async #write(key: string, counts: MailboxCounts, after: number): Promise<boolean> {
    try {
      const revision = await untilAvailable(() => this.kv.update(key, JSON.stringify(counts), after), { deadlineMs: PATIENCE_MS, isFinal: isRevisionConflict });
      this.#remember(key, { counts, revision });
      return true;
    } catch (error) {
      this.#known.delete(key);
      if (isRevisionConflict(error)) return false;
      throw error;
    }
  }

  #remember(key: string, entry: Entry): Entry {
    this.#known.delete(key);
    this.#known.set(key, entry);
    if (this.#known.size > REMEMBERED) this.#known.delete(this.#known.keys().next().value as string);
    return entry;
  }
}

interface Entry {
  counts: MailboxCounts;
  revision: number;
}

/** The counts after `change`, or undefined when a count would fall below zero (they disagree with the mailbox). */
function applied(counts: MailboxCounts, change: CountsChange): MailboxCounts | undefined {
  const next = {
    new: counts.new + (change.new ?? 0),
    saved: counts.saved + (change.saved ?? 0),
    urgentNew: counts.urgentNew + (change.urgentNew ?? 0),
    urgentSaved: counts.urgentSaved + (change.urgentSaved ?? 0),
  };
  return Object.values(next).every((n) => n >= 0) ? next : undefined;
}

/** KV keys allow fewer characters than mailbox ids: the mailbox, base64url-encoded. */
const keyOf = (mailbox: Mailbox) => Buffer.from(`${mailbox.did}/${mailbox.uid}`).toString('base64url');
