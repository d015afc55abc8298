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
 * listed and the entry set to what the listing says.
 *
 * A listing and a change by another instance can cross: that instance has written the message's
 * objects and not yet counted them, and the listing may or may not have seen them. Each listing
 * that sets the counts therefore marks the entry with a new `recount` token, and a change first
 * takes a ticket (the token it knows) before it touches the mailbox's objects: a change whose
 * entry carries another token by the time it is counted may be in that listing already, so it
 * lists the mailbox itself instead of adding to it. A listing that finds what the entry says
 * writes nothing, so a busy mailbox's listings do not set off one another.
 */
import { randomInt } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import {
  isRevisionConflict,
  KeptMailboxCountsSchema,
  ServiceError,
  untilAvailable,
  type KeptMailboxCounts,
  type Mailbox,
  type MailboxCounts,
} from '@sipvm/contracts';
import { safeJson } from './blobs.js';

const PATIENCE_MS = 10_000;
const REMEMBERED = 10_000;
/** The token of counts never set by a listing (none kept, or kept before tokens existed). */
const UNLISTED = 0;

export type CountsChange = Partial<MailboxCounts>;

/** What a change knew of the counts before it touched the mailbox (take it before, count after). */
export interface CountsTicket {
  readonly recount: number;
}

export class MailboxCountKeeper {
  /** Each mailbox's entry as this instance last read or wrote it (bounded): a change is one write. */
  readonly #known = new Map<string, Entry>();

  constructor(private readonly kv: KV) {}

  /** The counts as kept (read afresh: another instance may have changed them); listed when there are none. */
  async get(mailbox: Mailbox, list: () => Promise<MailboxCounts>): Promise<MailboxCounts> {
    const entry = await this.#read(keyOf(mailbox));
    return entry?.kept ? withoutToken(entry.kept) : this.recount(mailbox, list);
  }

  /** Taken before a change touches the mailbox's objects, handed to `change` after. */
  async ticket(mailbox: Mailbox): Promise<CountsTicket> {
    const key = keyOf(mailbox);
    const entry = this.#known.get(key) ?? (await this.#read(key));
    return { recount: entry?.kept?.recount ?? UNLISTED };
  }

  /**
   * Applies a change the mailbox has just undergone (its objects are written): the new counts.
   * The mailbox is listed instead when there is no entry, when the change does not fit the entry,
   * or when a listing set the entry since the ticket was taken (it may hold the change already).
   */
  async change(mailbox: Mailbox, change: CountsChange, ticket: CountsTicket, list: () => Promise<MailboxCounts>): Promise<MailboxCounts> {
    const key = keyOf(mailbox);
    const deadline = Date.now() + PATIENCE_MS;
    let current = this.#known.get(key) ?? (await this.#read(key));
    while (current?.kept && current.kept.recount === ticket.recount) {
      const next = applied(current.kept, change);
      if (!next) break;
      if (await this.#write(key, next, current.revision)) return withoutToken(next);
      // Another instance changed it meanwhile: again, on what it wrote. Each refusal is another's progress.
      if (Date.now() > deadline) throw busy(mailbox);
      current = await this.#read(key);
    }
    return this.recount(mailbox, list);
  }

  /**
   * Lists the mailbox and keeps what the listing found, unless the entry already says so. When
   * another instance changes the entry during the listing, the listing cannot tell whether it saw
   * that change, so it lists again — or, when `unlessBusy` says so (a listing for its own sake,
   * with nothing of its own to count), leaves the entry to the changes.
   */
  async recount(mailbox: Mailbox, list: () => Promise<MailboxCounts>, options: { unlessBusy?: () => boolean } = {}): Promise<MailboxCounts> {
    const key = keyOf(mailbox);
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const before = await this.#read(key);
      const counts = await list();
      if (before?.kept && sameCounts(before.kept, counts)) return counts;
      if (await this.#write(key, { ...counts, recount: randomInt(1, 2 ** 48) }, before?.revision)) return counts;
      if (options.unlessBusy?.()) return counts;
      if (Date.now() > deadline) throw busy(mailbox);
    }
  }

  async #read(key: string): Promise<Entry | undefined> {
    const stored = await untilAvailable(() => this.kv.get(key), { deadlineMs: PATIENCE_MS });
    if (stored?.operation !== 'PUT') {
      this.#known.delete(key);
      return undefined;
    }
    // An entry that does not parse is still an entry: a listing replaces it at its revision.
    const parsed = KeptMailboxCountsSchema.safeParse(safeJson(stored.value));
    return this.#remember(key, { kept: parsed.success ? parsed.data : undefined, revision: stored.revision });
  }

  /** Compare-and-set: at `after`, or as a new entry when there was none. False when another got there first. */
  async #write(key: string, kept: KeptMailboxCounts, after: number | undefined): Promise<boolean> {
    const value = JSON.stringify(kept);
    try {
      const revision = await untilAvailable(() => (after === undefined ? this.kv.create(key, value) : this.kv.update(key, value, after)), {
        deadlineMs: PATIENCE_MS,
        isFinal: isRevisionConflict,
      });
      this.#remember(key, { kept, revision });
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
  /** Undefined when the entry cannot be read (a listing sets it right). */
  kept: KeptMailboxCounts | undefined;
  revision: number;
}

/** The counts after `change`, or undefined when a count would fall below zero (they disagree with the mailbox). */
function applied(kept: KeptMailboxCounts, change: CountsChange): KeptMailboxCounts | undefined {
  const next = {
    new: kept.new + (change.new ?? 0),
    saved: kept.saved + (change.saved ?? 0),
    urgentNew: kept.urgentNew + (change.urgentNew ?? 0),
    urgentSaved: kept.urgentSaved + (change.urgentSaved ?? 0),
  };
  return Object.values(next).every((n) => n >= 0) ? { ...next, recount: kept.recount } : undefined;
}

/** The counts alone, as callers get them (their schema has no token). */
const withoutToken = ({ new: fresh, saved, urgentNew, urgentSaved }: MailboxCounts): MailboxCounts => ({ new: fresh, saved, urgentNew, urgentSaved });

const sameCounts = (a: MailboxCounts, b: MailboxCounts) =>
  a.new === b.new && a.saved === b.saved && a.urgentNew === b.urgentNew && a.urgentSaved === b.urgentSaved;

/** Unavailable, not failed: the change is done and its caller tries again (a deposit is redelivered). */
const busy = (mailbox: Mailbox) =>
  new ServiceError('service-unavailable', `the counts of ${mailbox.uid}@${mailbox.did} kept changing for ${PATIENCE_MS / 1000} s while being counted`);

/** KV keys allow fewer characters than mailbox ids: the mailbox, base64url-encoded. */
const keyOf = (mailbox: Mailbox) => Buffer.from(`${mailbox.did}/${mailbox.uid}`).toString('base64url');
