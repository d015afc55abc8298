/**
 * Retention's schedule and its sweep (docs/behaviour.md §6): messages are deleted when their
 * domain's time is up (new ones so many days after they arrived, saved ones after they were heard),
 * and the owner is told some days before, without a sweep ever listing every mailbox.
 *
 * The schedule is a KV bucket (vm-retention) of two kinds of entries:
 *   due.<hour>.<mailbox>   the mailbox has a message that expires (or must be warned about) in
 *                          that hour (UTC, yyyymmddhh): the index a sweep reads, one hour at a time
 *   box.<mailbox>          the mailbox's state: when it is next due, the last expiry its owner was
 *                          told about, and the owner's address as the newest message's profile said
 * A new message (or one just heard) whose expiry is earlier than the mailbox's next due date moves
 * it earlier; later ones change nothing (most messages cost no write). A sweep takes the hours
 * from the last one it finished up to now, and for each lists only that hour's entries: the
 * mailboxes due then. Each is swept (MailboxStore.sweep: expired messages deleted, counts and MWI
 * as for any deletion), its owner told about what expires within the warning days, and its next
 * due date written. One storage instance sweeps at a time (a lease in the bucket).
 */
import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import {
  IsoTimeSchema,
  isRevisionConflict,
  MailboxOwnerSchema,
  MailboxSchema,
  untilAvailable,
  type Mailbox,
  type MailboxNotice,
  type MailboxOwner,
} from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import type { MailboxStore } from './mailbox-store.js';
import type { RetentionPolicy } from './retention-policy.js';

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
const PATIENCE_MS = 10_000;
/** Mailboxes whose next due date this instance remembers (a new message then costs no read). */
const REMEMBERED = 100_000;
/** The first sweep of a fresh schedule starts this far back (nothing older can be due). */
const FIRST_LOOK_BACK_MS = 2 * HOUR_MS;

const BoxStateSchema = z.strictObject({
  mailbox: MailboxSchema,
  nextDue: IsoTimeSchema,
  /** The latest expiry the owner was told about. */
  warnedUntil: IsoTimeSchema.optional(),
  owner: MailboxOwnerSchema.optional(),
});
type BoxState = z.infer<typeof BoxStateSchema>;
const CursorSchema = z.strictObject({ hour: z.string() });
const LeaseSchema = z.strictObject({ holder: z.string(), until: z.number() });

export interface RetentionOptions {
  kv: KV;
  store: MailboxStore;
  policy: (mailbox: Mailbox) => RetentionPolicy;
  /** Tells the owner (notices.ts). */
  notify: (notice: MailboxNotice) => Promise<void>;
  /** Removes a KV entry for good (contracts' eraseKvKey), so swept hours leave no markers behind. */
  erase: (key: string) => Promise<void>;
  log: Logger;
  /** This instance's name, in the sweep's lease. */
  instance: string;
  now?: () => number;
}

export class Retention {
  /** Each mailbox's next due date and owner, as this instance last wrote or read them (bounded). */
  readonly #known = new Map<string, { due: number; owner: string | undefined }>();
  readonly #now: () => number;

  constructor(private readonly options: RetentionOptions) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * A message of the mailbox expires at `at`: the mailbox is due then (or when its owner is to be
   * told, earlier) unless it is due sooner already. The owner's address, when it changed, is kept.
   */
  async expiresAt(mailbox: Mailbox, at: number, owner: MailboxOwner | undefined): Promise<void> {
    const { warnDays } = this.options.policy(mailbox);
    const now = this.#now();
    // Never into an hour already swept: what is due by now is swept at the next hour.
    const due = Math.max(now, warnDays > 0 ? at - warnDays * DAY_MS : at);
    const key = boxKey(mailbox);
    const told = warnDays > 0 && owner?.email !== undefined ? ownerKey(owner) : undefined;
    const known = this.#known.get(key);
    if (known && known.due <= due && known.due > now - HOUR_MS && (told === undefined || told === known.owner)) return;
    const state = await this.#state(mailbox);
    // A due date long past belongs to a sweep that did not finish: it no longer counts.
    const current = state && Date.parse(state.nextDue) > now - HOUR_MS ? Date.parse(state.nextDue) : undefined;
    const ownerChanged = told !== undefined && told !== (state?.owner ? ownerKey(state.owner) : undefined);
    if (current !== undefined && current <= due) {
      if (ownerChanged) await this.#put(key, BoxStateSchema.parse({ ...state, owner }));
      this.#remember(key, current, told ?? (state?.owner ? ownerKey(state.owner) : undefined));
      return;
    }
    await this.#schedule(mailbox, { ...(state ?? {}), mailbox, nextDue: new Date(due).toISOString(), ...(ownerChanged ? { owner } : {}) });
  }

  /**
   * Sweeps every hour from the last one finished up to now: the mailboxes due in each. Returns how
   * many mailboxes it swept (none when another instance holds the sweep).
   */
  async sweep(): Promise<{ mailboxes: number; expired: number }> {
    if (!(await this.#lease())) return { mailboxes: 0, expired: 0 };
    const now = this.#now();
    const cursor = await this.#get('sweep.cursor', CursorSchema);
    // An hour's entries are due by its end: the hours that have ended are swept.
    const last = hourOf(Math.floor(now / HOUR_MS) * HOUR_MS);
    let mailboxes = 0;
    let expired = 0;
    for (let hour = cursor ? hourAfter(cursor.value.hour) : hourOf(now - FIRST_LOOK_BACK_MS); hour <= last; hour = hourAfter(hour)) {
      for (const key of await this.#keys(`due.${hour}.*`)) {
        const swept = await this.#sweepDue(key, now);
        mailboxes += swept.mailboxes;
        expired += swept.expired;
      }
      // The last hour stays open: a due date of exactly now may still land in it.
      if (hour < last) await this.#put('sweep.cursor', { hour });
    }
    if (mailboxes > 0) this.options.log.info({ mailboxes, expired }, 'retention swept the mailboxes due');
    return { mailboxes, expired };
  }

  async #sweepDue(dueKey: string, now: number): Promise<{ mailboxes: number; expired: number }> {
    const entry = await this.#get(dueKey, MailboxSchema);
    if (!entry) {
      await this.options.erase(dueKey);
      return { mailboxes: 0, expired: 0 };
    }
    const mailbox = entry.value;
    const state = await this.#state(mailbox);
    // Due later than this (a sweep moved it on, a stale entry): nothing to do now.
    if (state && Date.parse(state.nextDue) > now) {
      await this.options.erase(dueKey);
      return { mailboxes: 0, expired: 0 };
    }
    const policy = this.options.policy(mailbox);
    const { expired, counts, expiries } = await this.options.store.sweep(mailbox);
    let warnedUntil = state?.warnedUntil ? Date.parse(state.warnedUntil) : 0;
    const warnBy = now + policy.warnDays * DAY_MS;
    const toTell = policy.warnDays > 0 ? expiries.filter((at) => at <= warnBy && at > warnedUntil) : [];
    if (toTell.length > 0) {
      const expiresAt = new Date(toTell[0]!).toISOString();
      await this.options.notify({
        kind: 'messages-expiring',
        noticeId: `messages-expiring-${boxKey(mailbox)}-${toTell[toTell.length - 1]!}`,
        mailbox,
        at: new Date(now).toISOString(),
        counts,
        expiring: toTell.length,
        expiresAt,
        ...(state?.owner ? { owner: state.owner } : {}),
      });
      warnedUntil = toTell[toTell.length - 1]!;
    }
    // Next: the first expiry still ahead, or the first warning still to give.
    const upcoming = expiries.filter((at) => at > now);
    const warnings = policy.warnDays > 0 ? upcoming.filter((at) => at > warnedUntil).map((at) => at - policy.warnDays * DAY_MS) : [];
    const next = Math.min(...upcoming, ...warnings.map((at) => Math.max(at, now + HOUR_MS)));
    await this.options.erase(dueKey);
    if (Number.isFinite(next)) {
      await this.#schedule(mailbox, {
        ...(state ?? {}),
        mailbox,
        nextDue: new Date(next).toISOString(),
        ...(warnedUntil > 0 ? { warnedUntil: new Date(warnedUntil).toISOString() } : {}),
      });
    } else {
      this.#known.delete(boxKey(mailbox));
      await this.options.erase(boxKey(mailbox));
    }
    return { mailboxes: 1, expired };
  }

  /** Writes the mailbox's state and its entry in the index of its due hour. */
  async #schedule(mailbox: Mailbox, state: BoxState): Promise<void> {
    const due = Date.parse(state.nextDue);
    await this.#put(`due.${hourOf(due)}.${boxKey(mailbox).slice(4)}`, mailbox);
    await this.#put(boxKey(mailbox), BoxStateSchema.parse(state));
    this.#remember(boxKey(mailbox), due, state.owner ? ownerKey(state.owner) : undefined);
  }

  async #state(mailbox: Mailbox): Promise<BoxState | undefined> {
    return (await this.#get(boxKey(mailbox), BoxStateSchema))?.value;
  }

  /** One sweeper at a time: the lease is taken by compare-and-set and runs out by itself. */
  async #lease(): Promise<boolean> {
    const now = this.#now();
    const mine = { holder: this.options.instance, until: now + 10 * 60 * 1000 };
    try {
      const current = await untilAvailable(() => this.options.kv.get('sweep.lease'), { deadlineMs: PATIENCE_MS });
      if (!current || current.operation !== 'PUT') {
        await this.options.kv.create('sweep.lease', JSON.stringify(mine));
        return true;
      }
      const lease = LeaseSchema.safeParse(current.json());
      if (lease.success && lease.data.holder !== this.options.instance && lease.data.until > now) return false;
      await this.options.kv.update('sweep.lease', JSON.stringify(mine), current.revision);
      return true;
    } catch (error) {
      if (isRevisionConflict(error) || /exists|wrong last sequence/i.test(String(error))) return false;
      throw error;
    }
  }

  async #keys(filter: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await this.options.kv.keys(filter)) keys.push(key);
    return keys;
  }

  async #get<S extends z.ZodType>(key: string, schema: S): Promise<{ value: z.output<S>; revision: number } | undefined> {
    const entry = await untilAvailable(() => this.options.kv.get(key), { deadlineMs: PATIENCE_MS });
    if (!entry || entry.operation !== 'PUT') return undefined;
    const parsed = schema.safeParse(entry.json());
    return parsed.success ? { value: parsed.data, revision: entry.revision } : undefined;
  }

  async #put(key: string, value: unknown): Promise<void> {
    await untilAvailable(() => this.options.kv.put(key, JSON.stringify(value)), { deadlineMs: PATIENCE_MS });
  }

  #remember(key: string, due: number, owner: string | undefined): void {
    this.#known.delete(key);
    this.#known.set(key, { due, owner });
    if (this.#known.size > REMEMBERED) this.#known.delete(this.#known.keys().next().value as string);
  }
}

const ownerKey = (owner: MailboxOwner): string => `${owner.email ?? ''}\n${owner.language ?? ''}`;

/** A mailbox's key in the schedule: a hash, short and safe for KV keys whatever the mailbox's name. */
function boxKey(mailbox: Mailbox): string {
  return `box.${createHash('sha256').update(`${mailbox.did}\n${mailbox.uid}`).digest('base64url').slice(0, 22)}`;
}

/** The UTC hour a time falls in, rounded up (a message expiring at 13:40 is swept at 14:00): yyyymmddhh. */
function hourOf(ms: number): string {
  return new Date(Math.ceil(ms / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

function hourAfter(hour: string): string {
  const ms = Date.UTC(Number(hour.slice(0, 4)), Number(hour.slice(4, 6)) - 1, Number(hour.slice(6, 8)), Number(hour.slice(8, 10)));
  return hourOf(ms + HOUR_MS);
}
