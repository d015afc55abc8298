/**
 * Mailboxes, messages and greetings (docs/behaviour.md §6), written once over a BlobStore.
 *
 * Why it is safe under concurrency and crashes:
 * - A message exists when its metadata object exists. Audio (and the urgent marker) are written
 *   first, the metadata last and only if absent: a crash in between leaves nothing visible, and
 *   two writers can never both own one id.
 * - Flags are marker objects (see layout.ts): a mark is one idempotent write or delete.
 * - Changes to one mailbox are serialised in this process (quota check, metadata write, count,
 *   event), so events leave this instance in the order the changes happened.
 * - Counts are kept as they change (mailbox-counts.ts), not listed: a mailbox is listed only when
 *   someone asks for its messages, when its kept counts may be wrong, or when retention is due.
 * - Every change of a mailbox goes through here — a message left, forwarded, heard, deleted or
 *   expired — so its counts, its MWI event and its owner's notices follow it.
 * Sequence: docs/flows/deposit.md
 */
import { z } from 'zod';
import {
  CallerSchema,
  IsoTimeSchema,
  MailboxSchema,
  ServiceError,
  type AudioChunk,
  type AudioChunkRequest,
  type AudioRef,
  type Mailbox,
  type MailboxChangedEvent,
  type MessageTranscribedEvent,
  type MailboxCounts,
  type MessageId,
  type MessageInfo,
  type MailboxNotice,
  type MailboxOwner,
  type StagedAudio,
  type Transcript,
  TranscriptSchema,
  MessageIdSchema,
  CodecSchema,
  SenderSchema,
  CreateMessageRequestSchema,
  ForwardMessageRequestSchema,
  ListCursorSchema,
} from '@sipvm/contracts';
import { KeyedMutex, type Logger } from '@sipvm/service';
import { bytesOf, safeJson, type BlobStore } from './blobs.js';
import type { CountsChange, CountsTicket, MailboxCountKeeper } from './mailbox-counts.js';
import { greetingKey, messageAudioKey, messageMetaKey, readMarkerKey, urgentMarkerKey } from './layout.js';
import { newMessageId } from './message-id.js';
import { forwardedAudio } from './forwarded-audio.js';
import { isNew, selectPage, type ListingQuery } from './listing.js';
import { fillNotice } from './quota.js';
import { countsOf, mapLimited, scanMailbox, type Scan } from './mailbox-scan.js';
import { expiryOf, expiryOfMessage, NO_RETENTION, type RetentionPolicy } from './retention-policy.js';

/** What is stored in messages/<id>.json. Read back through this schema: a damaged file is refused, not trusted. */
const StoredMessageSchema = z.strictObject({
  version: z.literal(1),
  id: MessageIdSchema,
  sender: SenderSchema,
  recordedAt: IsoTimeSchema,
  durationMs: z.number().int().nonnegative(),
  codec: CodecSchema,
  urgent: z.boolean(),
  size: z.number().int().nonnegative(),
  caller: CallerSchema.optional(),
  /** Written after the message (setTranscript), when the transcriber is done. */
  transcript: TranscriptSchema.optional(),
  forwardedFrom: MailboxSchema.optional(),
});
type StoredMessage = z.infer<typeof StoredMessageSchema>;

export type MailboxChange = Pick<MailboxChangedEvent, 'mailbox' | 'change' | 'messageId' | 'counts'>;
export type MessageTranscribed = Pick<MessageTranscribedEvent, 'mailbox' | 'messageId' | 'status' | 'counts'>;

export interface MailboxStoreOptions {
  /** How long each mailbox's messages are kept (its domain's retention); none by default. */
  retention?: (mailbox: Mailbox) => RetentionPolicy;
  /** Opens staged audio for ingestion. */
  openStaged: (staged: StagedAudio) => Promise<AsyncIterable<Uint8Array>>;
  /** Called after every change, inside the mailbox's critical section. */
  onChange: (change: MailboxChange) => Promise<void>;
  /** Called after a transcript was written into a message, inside the mailbox's critical section. */
  onTranscribed?: (event: MessageTranscribed) => Promise<void>;
  /** Tells the owner (notices.ts): the mailbox passed its warning share, or is full. */
  onNotice?: (notice: MailboxNotice) => Promise<void>;
  /**
   * A message of the mailbox expires at `at` (retention's schedule, retention.ts), with the owner
   * as the newest message's profile told it; called after the change, outside the critical section.
   */
  onExpiry?: (mailbox: Mailbox, at: number, owner: MailboxOwner | undefined) => Promise<void>;
  /** Where each mailbox's counts are kept. */
  counts: MailboxCountKeeper;
  log: Logger;
  /** Now, in milliseconds (a test's clock). */
  now?: () => number;
}

type CreateMessage = z.output<typeof CreateMessageRequestSchema>;
type ForwardMessage = z.output<typeof ForwardMessageRequestSchema>;
export type ListQuery = Omit<ListingQuery, 'after' | 'before'> & {
  after?: z.infer<typeof ListCursorSchema> | undefined;
  before?: z.infer<typeof ListCursorSchema> | undefined;
  /** With each message's transcript (at most LIST_PAGE_MAX_WITH_TRANSCRIPTS a page, the contract checks). */
  transcripts?: boolean;
};

/** A message to add to a mailbox: its metadata but the id, and where its audio comes from. */
interface NewMessage {
  fields: Omit<StoredMessage, 'version' | 'id' | 'size'>;
  audio: { size: number; open: () => Promise<AsyncIterable<Uint8Array>> };
  idempotencyKey: string | undefined;
  /** The mailbox's most messages: refused beyond it unless `admitted`; its notices either way. */
  quota: { limit: number; admitted: boolean; warnPercent: number | undefined };
  owner: MailboxOwner | undefined;
}

const EMPTY = new Uint8Array(0);

export class MailboxStore {
  readonly #blobs: BlobStore;
  readonly #options: MailboxStoreOptions;
  readonly #locks = new KeyedMutex();
  readonly #now: () => number;

  constructor(blobs: BlobStore, options: MailboxStoreOptions) {
    this.#blobs = blobs;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  // ------------------------------------------------------------------ messages

  async createMessage(req: CreateMessage): Promise<{ message: MessageInfo; counts: MailboxCounts; created: boolean }> {
    return this.#add(req.mailbox, {
      fields: {
        sender: req.sender,
        recordedAt: new Date(req.recordedAt).toISOString(),
        durationMs: req.durationMs,
        codec: req.codec,
        urgent: req.urgent,
        ...(req.caller !== undefined ? { caller: req.caller } : {}),
      },
      audio: { size: req.audio.size, open: () => this.#options.openStaged(req.audio) },
      idempotencyKey: req.idempotencyKey,
      quota: { limit: req.maxMessages ?? 0, admitted: req.admitted, warnPercent: req.quotaWarnPercent },
      owner: req.owner,
    });
  }

  /**
   * A copy of a message as a new message of another mailbox of the domain, the introduction
   * before it. It keeps the message's caller, time and urgency and is new for its owner (counted,
   * announced for MWI). Forwarding one message to one mailbox twice gives one copy.
   */
  async forwardMessage(req: ForwardMessage): Promise<{ message: MessageInfo; counts: MailboxCounts }> {
    const { mailbox: from, to } = req;
    if (from.did !== to.did) throw new ServiceError('bad-request', `a message of ${from.did} is forwarded within ${from.did} only`);
    if (from.uid === to.uid) throw new ServiceError('bad-request', 'a message is not forwarded to its own mailbox');
    const original = await this.#readMeta(from, req.id);
    if (!original) throw await this.#notFound(from, req.id);
    const introduction = req.introduction;
    const audio = await forwardedAudio(this.#blobs, messageAudioKey(from, req.id), introduction ? await this.#options.openStaged(introduction) : undefined);
    const { message, counts } = await this.#add(to, {
      fields: {
        sender: original.sender,
        recordedAt: original.recordedAt,
        durationMs: audio.durationMs,
        codec: original.codec,
        urgent: original.urgent,
        forwardedFrom: from,
        ...(original.caller !== undefined ? { caller: original.caller } : {}),
      },
      audio: { size: audio.size, open: async () => audio.open() },
      idempotencyKey: `forwarded:${from.uid}:${req.id}`,
      quota: { limit: req.maxMessages ?? 0, admitted: false, warnPercent: undefined },
      owner: undefined,
    });
    this.#options.log.info({ from, to, messageId: req.id, copy: message.id, introduction: introduction !== undefined }, 'message forwarded');
    return { message, counts };
  }

  /**
   * Adds a message: audio first (invisible until the metadata exists), then — in the mailbox's
   * critical section — the quota, the metadata, the counts, the event and the owner's notice.
   */
  async #add(mailbox: Mailbox, add: NewMessage): Promise<{ message: MessageInfo; counts: MailboxCounts; created: boolean }> {
    const recordedAt = new Date(add.fields.recordedAt);
    const idempotent = add.idempotencyKey !== undefined;
    const { limit, admitted } = add.quota;

    for (let attempt = 0; ; attempt++) {
      const id = newMessageId(recordedAt, mailbox, add.idempotencyKey);
      if (idempotent) {
        const existing = await this.#readMeta(mailbox, id);
        // Stored before: maybe by an attempt that died before it counted the message. Counted afresh.
        if (existing) return { message: await this.#info(mailbox, existing), counts: await this.#recount(mailbox), created: false };
      }
      if (limit > 0 && !admitted) {
        // Refused before any audio is written; checked again below, where it counts.
        const kept = await this.countMailbox(mailbox);
        if (kept.new + kept.saved >= limit) throw quotaExceeded(mailbox, limit);
      }
      // Audio first: invisible until the metadata exists. A random id must not overwrite anything.
      const fresh = await this.#blobs.put(messageAudioKey(mailbox, id), await add.audio.open(), add.audio.size, { ifAbsent: !idempotent });
      if (!fresh) {
        if (attempt < 3) continue; // a 48-bit collision within one millisecond: draw again
        throw new ServiceError('internal', 'could not allocate a unique message id');
      }
      if (add.fields.urgent) await this.#blobs.put(urgentMarkerKey(mailbox, id), bytesOf(EMPTY), 0);

      const stored: StoredMessage = { version: 1, id, ...add.fields, size: add.audio.size };
      const outcome = await this.#locks.run(lockKey(mailbox), async () => {
        if (limit > 0 && !admitted) {
          const kept = await this.#countLocked(mailbox);
          if (kept.new + kept.saved >= limit) return 'quota' as const;
        }
        const metaBytes = new TextEncoder().encode(JSON.stringify(stored));
        const ticket = await this.#options.counts.ticket(mailbox);
        const written = await this.#blobs.put(messageMetaKey(mailbox, id), bytesOf(metaBytes), metaBytes.length, { ifAbsent: true });
        if (!written) return 'exists' as const;
        const counts = await this.#counted(mailbox, { new: 1, urgentNew: add.fields.urgent ? 1 : 0 }, ticket);
        await this.#options.onChange({ mailbox, change: 'message-created', messageId: id, counts });
        if (limit > 0) await this.#tellFill(mailbox, id, add, counts);
        return { counts };
      });
      if (outcome === 'quota') {
        await this.#removeMessageObjects(mailbox, id);
        throw quotaExceeded(mailbox, limit);
      }
      if (outcome === 'exists') {
        // Only an idempotent retry racing itself gets here: the other one stored it.
        const existing = await this.#readMeta(mailbox, id);
        if (!existing) throw new ServiceError('internal', `message ${id} vanished while being created`);
        return { message: await this.#info(mailbox, existing), counts: await this.countMailbox(mailbox), created: false };
      }
      await this.#scheduleExpiry(mailbox, recordedAt.getTime(), 'new', add.owner);
      return { message: { ...toInfo(mailbox, stored), read: false }, counts: outcome.counts, created: true };
    }
  }

  /** The owner's notice when this message took the mailbox to its warning share or its limit. */
  async #tellFill(mailbox: Mailbox, id: MessageId, add: NewMessage, after: MailboxCounts): Promise<void> {
    const notice = fillNotice(mailbox, id, { ...add.quota, owner: add.owner }, after, new Date(this.#now()));
    if (!notice || !this.#options.onNotice) return;
    try {
      await this.#options.onNotice(notice);
    } catch (error) {
      // The message is stored; a notice that cannot be published now is logged, not worth failing the message for.
      this.#options.log.error({ mailbox, kind: notice.kind, err: String(error) }, 'cannot tell the owner about the mailbox; notice lost');
    }
  }

  /** Tells retention's schedule when a message of the mailbox expires (`new`: by its time; `saved`: from now). */
  async #scheduleExpiry(mailbox: Mailbox, since: number, state: 'new' | 'saved', owner?: MailboxOwner): Promise<void> {
    if (!this.#options.onExpiry) return;
    const at = expiryOf(this.#retentionOf(mailbox), state, since);
    if (at === undefined) return;
    await this.#options.onExpiry(mailbox, at, owner).catch((error: unknown) =>
      // The next change or the next listing schedules it again; the message is safe either way.
      this.#options.log.warn({ mailbox, err: String(error) }, 'cannot schedule retention'),
    );
  }

  #retentionOf(mailbox: Mailbox): RetentionPolicy {
    return this.#options.retention?.(mailbox) ?? NO_RETENTION;
  }

  async getMessage(mailbox: Mailbox, id: MessageId): Promise<MessageInfo> {
    const stored = await this.#readMeta(mailbox, id);
    if (!stored) throw await this.#notFound(mailbox, id);
    return this.#info(mailbox, stored);
  }

  /** Deleting a message that is not there is not an error (`deleted: false`). */
  async deleteMessage(mailbox: Mailbox, id: MessageId): Promise<{ deleted: boolean; counts: MailboxCounts }> {
    return this.#locks.run(lockKey(mailbox), async () => {
      const stored = await this.#readMeta(mailbox, id);
      const heard = stored !== null && (await this.#blobs.head(readMarkerKey(mailbox, id))) !== null;
      const ticket = await this.#options.counts.ticket(mailbox);
      await this.#removeMessageObjects(mailbox, id);
      if (!stored) return { deleted: false, counts: await this.#countLocked(mailbox) };
      const counts = await this.#counted(
        mailbox,
        heard ? { saved: -1, urgentSaved: stored.urgent ? -1 : 0 } : { new: -1, urgentNew: stored.urgent ? -1 : 0 },
        ticket,
      );
      await this.#options.onChange({ mailbox, change: 'message-deleted', messageId: id, counts });
      return { deleted: true, counts };
    });
  }

  async markMessage(mailbox: Mailbox, id: MessageId, read: boolean): Promise<{ message: MessageInfo; counts: MailboxCounts }> {
    const result = await this.#locks.run(lockKey(mailbox), async () => {
      const stored = await this.#readMeta(mailbox, id);
      if (!stored) throw await this.#notFound(mailbox, id);
      const wasRead = (await this.#blobs.head(readMarkerKey(mailbox, id))) !== null;
      if (read === wasRead) return { message: { ...toInfo(mailbox, stored), read }, counts: await this.#countLocked(mailbox) };
      const ticket = await this.#options.counts.ticket(mailbox);
      if (read) await this.#blobs.put(readMarkerKey(mailbox, id), bytesOf(EMPTY), 0);
      else await this.#blobs.delete(readMarkerKey(mailbox, id));
      const moved = read ? 1 : -1;
      const urgent = stored.urgent ? moved : 0;
      const counts = await this.#counted(mailbox, { new: -moved, saved: moved, urgentNew: -urgent, urgentSaved: urgent }, ticket);
      await this.#options.onChange({ mailbox, change: read ? 'message-read' : 'message-unread', messageId: id, counts });
      return { message: { ...toInfo(mailbox, stored), read }, counts };
    });
    const { message } = result;
    await this.#scheduleExpiry(mailbox, read ? this.#now() : Date.parse(message.recordedAt), read ? 'saved' : 'new');
    return result;
  }

  /**
   * The transcriber's result into the message's metadata, replacing any earlier one. The only
   * write of a message's metadata after its creation: a delete on another instance between the
   * read and the write would bring back metadata without audio, so the audio is looked for
   * afterwards and, when it is gone, the metadata goes too (the message stays deleted).
   */
  async setTranscript(mailbox: Mailbox, id: MessageId, transcript: Transcript): Promise<MessageInfo> {
    return this.#locks.run(lockKey(mailbox), async () => {
      const stored = await this.#readMeta(mailbox, id);
      if (!stored) throw await this.#notFound(mailbox, id);
      const updated: StoredMessage = { ...stored, transcript };
      const metaBytes = new TextEncoder().encode(JSON.stringify(updated));
      await this.#blobs.put(messageMetaKey(mailbox, id), bytesOf(metaBytes), metaBytes.length);
      if ((await this.#blobs.head(messageAudioKey(mailbox, id))) === null) {
        await this.#blobs.delete(messageMetaKey(mailbox, id));
        throw await this.#notFound(mailbox, id);
      }
      const counts = await this.#countLocked(mailbox);
      await this.#options.onTranscribed?.({ mailbox, messageId: id, status: transcript.status, counts });
      return this.#info(mailbox, updated);
    });
  }

  /**
   * A page of the mailbox (listing.ts): newest first by default (ids start with the recording
   * time), only new or only saved messages, urgent ones first, after or before a cursor;
   * transcripts only when asked.
   */
  async listMailbox(mailbox: Mailbox, query: ListQuery): Promise<{ messages: MessageInfo[]; total: number }> {
    // The listing counts the mailbox anyway: what is kept is set to it, unless changes are landing.
    const scan = await this.#locks.run(lockKey(mailbox), async () => {
      const listed = await this.#recountLocked(mailbox, { unlessBusy: true });
      return listed.scan;
    });
    const { ids, total } = selectPage(scan, query);
    const heard = new Set(query.heard);
    const infos = await mapLimited(ids, 16, async (id) => {
      const stored = await this.#readMeta(mailbox, id);
      if (!stored) return null;
      // A message the session heard is still reported as it was when the session began.
      const info = { ...toInfo(mailbox, stored), read: !isNew(scan, id, heard) };
      if (!query.transcripts) delete info.transcript;
      return info;
    });
    return { messages: infos.filter((info): info is MessageInfo => info !== null), total };
  }

  async countMailbox(mailbox: Mailbox): Promise<MailboxCounts> {
    return this.#locks.run(lockKey(mailbox), () => this.#countLocked(mailbox));
  }

  // ------------------------------------------------------------------ audio

  async readAudio(req: AudioChunkRequest): Promise<AudioChunk> {
    const key = audioKey(req.audio);
    const chunk = await this.#blobs.read(key, req.offset, req.length);
    if (chunk) return chunk;
    if (req.audio.kind === 'greeting') {
      throw new ServiceError('greeting-not-found', `no ${req.audio.type} greeting for ${req.audio.mailbox.uid}@${req.audio.mailbox.did}`);
    }
    throw await this.#notFound(req.audio.mailbox, req.audio.id);
  }

  // ------------------------------------------------------------------ internals

  /**
   * Retention's sweep of one mailbox (retention.ts): deletes what has expired, and tells when each
   * remaining message expires (the schedule's next date, the owner's warning).
   */
  async sweep(mailbox: Mailbox): Promise<{ expired: number; counts: MailboxCounts; expiries: number[] }> {
    return this.#locks.run(lockKey(mailbox), async () => {
      const { scan, counts, expired } = await this.#recountLocked(mailbox, { readTimes: true });
      const policy = this.#retentionOf(mailbox);
      const expiries: number[] = [];
      for (const id of scan.messages) {
        const at = expiryOfMessage(policy, scan, id);
        if (at !== undefined) expiries.push(at);
      }
      return { expired: expired.length, counts, expiries: expiries.sort((a, b) => a - b) };
    });
  }

  /**
   * One listing: applies retention, reports expired messages, and counts. Every listing goes
   * through here (the mailbox's messages asked for, its counts in doubt, retention due).
   */
  async #scanLocked(mailbox: Mailbox, options: { readTimes?: boolean } = {}): Promise<Listed> {
    const policy = this.#retentionOf(mailbox);
    const scan = await scanMailbox(this.#blobs, mailbox, { readTimes: options.readTimes === true || policy.savedDays > 0 });
    const expired = await this.#expire(mailbox, scan, policy);
    const counts = countsOf(scan);
    for (const id of expired) {
      this.#options.log.info({ mailbox, messageId: id }, 'message expired');
      await this.#options.onChange({ mailbox, change: 'message-expired', messageId: id, counts });
    }
    return { scan, counts, expired };
  }

  /**
   * A listing whose counts are kept (mailbox-counts.ts: listed again when changes land meanwhile).
   * `unlessBusy`: a listing for its own sake leaves busy counts to the changes — unless it expired
   * messages, which only it can count.
   */
  async #recountLocked(mailbox: Mailbox, options: { readTimes?: boolean; unlessBusy?: boolean } = {}): Promise<Listed> {
    let listed: Listed | undefined;
    const expired: MessageId[] = [];
    const counts = await this.#options.counts.recount(
      mailbox,
      async () => {
        listed = await this.#scanLocked(mailbox, options);
        expired.push(...listed.expired);
        return listed.counts;
      },
      { unlessBusy: () => options.unlessBusy === true && expired.length === 0 },
    );
    return { scan: listed!.scan, counts, expired };
  }

  /** The kept counts (a listing only when none are kept). */
  async #countLocked(mailbox: Mailbox): Promise<MailboxCounts> {
    return this.#options.counts.get(mailbox, async () => (await this.#scanLocked(mailbox)).counts);
  }

  /** The kept counts after a change the mailbox has just undergone. */
  async #counted(mailbox: Mailbox, change: CountsChange, ticket: CountsTicket): Promise<MailboxCounts> {
    return this.#options.counts.change(mailbox, change, ticket, async () => (await this.#scanLocked(mailbox)).counts);
  }

  /** Counts the mailbox by listing it, and keeps what it found. */
  async #recount(mailbox: Mailbox): Promise<MailboxCounts> {
    return this.#locks.run(lockKey(mailbox), async () => (await this.#recountLocked(mailbox)).counts);
  }

  /** Retention: deletes the messages whose time is up, and drops them from `scan`. */
  async #expire(mailbox: Mailbox, scan: Scan, policy: RetentionPolicy): Promise<MessageId[]> {
    if (policy.newDays <= 0 && policy.savedDays <= 0) return [];
    const now = this.#now();
    const expired: MessageId[] = [];
    for (const id of [...scan.messages]) {
      const at = expiryOfMessage(policy, scan, id);
      if (at === undefined || at > now) continue;
      await this.#removeMessageObjects(mailbox, id as MessageId);
      scan.messages.delete(id);
      scan.read.delete(id);
      scan.urgent.delete(id);
      expired.push(id as MessageId);
    }
    return expired;
  }

  /** Metadata first, so the message disappears at once; then the rest. Idempotent. */
  async #removeMessageObjects(mailbox: Mailbox, id: MessageId): Promise<void> {
    await this.#blobs.delete(messageMetaKey(mailbox, id));
    await Promise.all([
      this.#blobs.delete(messageAudioKey(mailbox, id)),
      this.#blobs.delete(readMarkerKey(mailbox, id)),
      this.#blobs.delete(urgentMarkerKey(mailbox, id)),
    ]);
  }

  async #readMeta(mailbox: Mailbox, id: MessageId): Promise<StoredMessage | null> {
    const bytes = await this.#blobs.get(messageMetaKey(mailbox, id));
    if (!bytes) return null;
    const parsed = StoredMessageSchema.safeParse(safeJson(bytes));
    if (!parsed.success || parsed.data.id !== id) {
      this.#options.log.error({ mailbox, messageId: id }, 'message metadata is damaged; treating the message as missing');
      return null;
    }
    return parsed.data;
  }

  async #info(mailbox: Mailbox, stored: StoredMessage): Promise<MessageInfo> {
    const read = (await this.#blobs.head(readMarkerKey(mailbox, stored.id))) !== null;
    return { ...toInfo(mailbox, stored), read };
  }

  /** Called inside or outside the mailbox's critical section: reads the kept counts without taking it. */
  async #notFound(mailbox: Mailbox, id: MessageId): Promise<ServiceError> {
    const counts = await this.#options.counts.get(mailbox, async () => countsOf(await scanMailbox(this.#blobs, mailbox, { readTimes: false })));
    return counts.new + counts.saved === 0
      ? new ServiceError('mailbox-not-found', `mailbox ${mailbox.uid}@${mailbox.did} has no messages`)
      : new ServiceError('message-not-found', `message ${id} is not in mailbox ${mailbox.uid}@${mailbox.did}`);
  }
}

function toInfo(mailbox: Mailbox, stored: StoredMessage): Omit<MessageInfo, 'read'> & { read: boolean } {
  return {
    id: stored.id,
    mailbox,
    sender: stored.sender,
    recordedAt: stored.recordedAt,
    durationMs: stored.durationMs,
    codec: stored.codec,
    urgent: stored.urgent,
    read: false,
    size: stored.size,
    ...(stored.caller !== undefined ? { caller: stored.caller } : {}),
    ...(stored.transcript ? { transcript: stored.transcript } : {}),
    ...(stored.forwardedFrom ? { forwardedFrom: stored.forwardedFrom } : {}),
  };
}

function quotaExceeded(mailbox: Mailbox, limit: number): ServiceError {
  return new ServiceError('quota-exceeded', `mailbox ${mailbox.uid}@${mailbox.did} is full (${limit} messages)`);
}

function audioKey(ref: AudioRef): string {
  return ref.kind === 'message' ? messageAudioKey(ref.mailbox, ref.id) : greetingKey(ref.mailbox, ref.type);
}

/** One listing of a mailbox: what it holds, its counts, and what retention took from it on the way. */
interface Listed {
  scan: Scan;
  counts: MailboxCounts;
  expired: MessageId[];
}

const lockKey = (m: Mailbox): string => `${m.did}/${m.uid}`;
