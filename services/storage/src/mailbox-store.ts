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
 *   someone asks for its messages, or when its kept counts may be wrong.
 * Sequence: docs/flows/deposit.md
 */
import { z } from 'zod';
import {
  CallerSchema,
  IsoTimeSchema,
  ServiceError,
  type AudioChunk,
  type AudioChunkRequest,
  type AudioRef,
  type GreetingInfo,
  type GreetingType,
  type Mailbox,
  type MailboxChangedEvent,
  type MessageTranscribedEvent,
  type MailboxCounts,
  type MessageId,
  type MessageInfo,
  type StagedAudio,
  type Transcript,
  TranscriptSchema,
  MessageIdSchema,
  CodecSchema,
  SenderSchema,
  CreateMessageRequestSchema,
} from '@sipvm/contracts';
import { KeyedMutex, type Logger } from '@sipvm/service';
import { bytesOf, type BlobStore } from './blobs.js';
import type { CountsChange, MailboxCountKeeper } from './mailbox-counts.js';
import {
  classifyMailboxKey,
  greetingKey,
  mailboxPrefix,
  messageAudioKey,
  messageMetaKey,
  readMarkerKey,
  urgentMarkerKey,
} from './layout.js';
import { newMessageId } from './message-id.js';

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
});
type StoredMessage = z.infer<typeof StoredMessageSchema>;

export type MailboxChange = Pick<MailboxChangedEvent, 'mailbox' | 'change' | 'messageId' | 'counts'>;
export type MessageTranscribed = Pick<MessageTranscribedEvent, 'mailbox' | 'messageId' | 'status' | 'counts'>;

export interface MailboxStoreOptions {
  /** Default maximum number of messages per mailbox; 0 = unlimited. */
  maxMessages: number;
  /** Saved (heard) messages older than this many days are deleted; 0 = kept forever. */
  retentionSavedDays: number;
  /** Opens staged audio for ingestion. */
  openStaged: (staged: StagedAudio) => Promise<AsyncIterable<Uint8Array>>;
  /** Called after every change, inside the mailbox's critical section. */
  onChange: (change: MailboxChange) => Promise<void>;
  /** Called after a transcript was written into a message, inside the mailbox's critical section. */
  onTranscribed?: (event: MessageTranscribed) => Promise<void>;
  /** Where each mailbox's counts are kept. */
  counts: MailboxCountKeeper;
  log: Logger;
}

type CreateMessage = z.output<typeof CreateMessageRequestSchema>;

const EMPTY = new Uint8Array(0);
const DAY_MS = 24 * 3600 * 1000;

export class MailboxStore {
  readonly #blobs: BlobStore;
  readonly #options: MailboxStoreOptions;
  readonly #locks = new KeyedMutex();

  constructor(blobs: BlobStore, options: MailboxStoreOptions) {
    this.#blobs = blobs;
    this.#options = options;
  }

  // ------------------------------------------------------------------ messages

  async createMessage(req: CreateMessage): Promise<{ message: MessageInfo; counts: MailboxCounts; created: boolean }> {
    const { mailbox } = req;
    const recordedAt = new Date(req.recordedAt);
    const idempotent = req.idempotencyKey !== undefined;

    for (let attempt = 0; ; attempt++) {
      const id = newMessageId(recordedAt, mailbox, req.idempotencyKey);
      if (idempotent) {
        const existing = await this.#readMeta(mailbox, id);
        // Stored before: maybe by an attempt that died before it counted the message. Counted afresh.
        if (existing) return { message: await this.#info(mailbox, existing), counts: await this.#recount(mailbox), created: false };
      }
      // Audio first: invisible until the metadata exists. A random id must not overwrite anything.
      const audio = await this.#options.openStaged(req.audio);
      const fresh = await this.#blobs.put(messageAudioKey(mailbox, id), audio, req.audio.size, { ifAbsent: !idempotent });
      if (!fresh) {
        if (attempt < 3) continue; // a 48-bit collision within one millisecond: draw again
        throw new ServiceError('internal', 'could not allocate a unique message id');
      }
      if (req.urgent) await this.#blobs.put(urgentMarkerKey(mailbox, id), bytesOf(EMPTY), 0);

      const stored: StoredMessage = {
        version: 1,
        id,
        sender: req.sender,
        recordedAt: recordedAt.toISOString(),
        durationMs: req.durationMs,
        codec: req.codec,
        urgent: req.urgent,
        size: req.audio.size,
        ...(req.caller !== undefined ? { caller: req.caller } : {}),
      };
      const outcome = await this.#locks.run(lockKey(mailbox), async () => {
        const limit = req.maxMessages ?? this.#options.maxMessages;
        if (limit > 0) {
          const kept = await this.#countLocked(mailbox);
          if (kept.new + kept.saved >= limit) return 'quota' as const;
        }
        const metaBytes = new TextEncoder().encode(JSON.stringify(stored));
        const written = await this.#blobs.put(messageMetaKey(mailbox, id), bytesOf(metaBytes), metaBytes.length, { ifAbsent: true });
        if (!written) return 'exists' as const;
        const counts = await this.#counted(mailbox, { new: 1, urgentNew: req.urgent ? 1 : 0 });
        await this.#options.onChange({ mailbox, change: 'message-created', messageId: id, counts });
        return { counts };
      });
      if (outcome === 'quota') {
        await this.#removeMessageObjects(mailbox, id);
        throw new ServiceError('quota-exceeded', `mailbox ${mailbox.uid}@${mailbox.did} is full (${req.maxMessages ?? this.#options.maxMessages} messages)`);
      }
      if (outcome === 'exists') {
        // Only an idempotent retry racing itself gets here: the other one stored it.
        const existing = await this.#readMeta(mailbox, id);
        if (!existing) throw new ServiceError('internal', `message ${id} vanished while being created`);
        return { message: await this.#info(mailbox, existing), counts: await this.countMailbox(mailbox), created: false };
      }
      return { message: { ...toInfo(mailbox, stored), read: false }, counts: outcome.counts, created: true };
    }
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
      await this.#removeMessageObjects(mailbox, id);
      if (!stored) return { deleted: false, counts: await this.#countLocked(mailbox) };
      const counts = await this.#counted(mailbox, heard ? { saved: -1, urgentSaved: stored.urgent ? -1 : 0 } : { new: -1, urgentNew: stored.urgent ? -1 : 0 });
      await this.#options.onChange({ mailbox, change: 'message-deleted', messageId: id, counts });
      return { deleted: true, counts };
    });
  }

  async markMessage(mailbox: Mailbox, id: MessageId, read: boolean): Promise<{ message: MessageInfo; counts: MailboxCounts }> {
    return this.#locks.run(lockKey(mailbox), async () => {
      const stored = await this.#readMeta(mailbox, id);
      if (!stored) throw await this.#notFound(mailbox, id);
      const wasRead = (await this.#blobs.head(readMarkerKey(mailbox, id))) !== null;
      if (read === wasRead) return { message: { ...toInfo(mailbox, stored), read }, counts: await this.#countLocked(mailbox) };
      if (read) await this.#blobs.put(readMarkerKey(mailbox, id), bytesOf(EMPTY), 0);
      else await this.#blobs.delete(readMarkerKey(mailbox, id));
      const moved = read ? 1 : -1;
      const urgent = stored.urgent ? moved : 0;
      const counts = await this.#counted(mailbox, { new: -moved, saved: moved, urgentNew: -urgent, urgentSaved: urgent });
      await this.#options.onChange({ mailbox, change: read ? 'message-read' : 'message-unread', messageId: id, counts });
      return { message: { ...toInfo(mailbox, stored), read }, counts };
    });
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

  /** Newest first (ids start with the recording time), `limit` messages from `offset`; transcripts only when asked. */
  async listMailbox(mailbox: Mailbox, offset: number, limit: number, transcripts = false): Promise<{ messages: MessageInfo[]; total: number }> {
    // The listing counts the mailbox anyway: what is kept is set to it.
    const { scan } = await this.#locks.run(lockKey(mailbox), async () => {
      const listed = await this.#scanLocked(mailbox);
      await this.#options.counts.set(mailbox, listed.counts);
      return listed;
    });
    const page = [...scan.messages].sort().reverse().slice(offset, offset + limit);
    const infos = await mapLimited(page, 16, async (id) => {
      const stored = await this.#readMeta(mailbox, id);
      if (!stored) return null;
      const info = { ...toInfo(mailbox, stored), read: scan.read.has(id) };
      if (!transcripts) delete info.transcript;
      return info;
    });
    return { messages: infos.filter((info): info is MessageInfo => info !== null), total: scan.messages.size };
  }

  async countMailbox(mailbox: Mailbox): Promise<MailboxCounts> {
    return this.#locks.run(lockKey(mailbox), () => this.#countLocked(mailbox));
  }

  // ------------------------------------------------------------------ greetings

  async putGreeting(mailbox: Mailbox, type: GreetingType, staged: StagedAudio): Promise<GreetingInfo> {
    const key = greetingKey(mailbox, type);
    await this.#blobs.put(key, await this.#options.openStaged(staged), staged.size);
    return this.getGreeting(mailbox, type);
  }

  async getGreeting(mailbox: Mailbox, type: GreetingType): Promise<GreetingInfo> {
    const info = await this.#blobs.head(greetingKey(mailbox, type));
    if (!info) throw new ServiceError('greeting-not-found', `no ${type} greeting for ${mailbox.uid}@${mailbox.did}`);
    return { mailbox, type, size: info.size, updatedAt: info.modified.toISOString() };
  }

  async deleteGreeting(mailbox: Mailbox, type: GreetingType): Promise<{ deleted: boolean }> {
    const key = greetingKey(mailbox, type);
    const existed = (await this.#blobs.head(key)) !== null;
    await this.#blobs.delete(key);
    return { deleted: existed };
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
   * Listings of the mailbox's metadata and marker folders (not its audio): which messages exist,
   * which are read, which urgent. Only retention needs to know when a message was read.
   */
  async #scan(mailbox: Mailbox): Promise<Scan> {
    const prefix = mailboxPrefix(mailbox);
    const withTimes = this.#options.retentionSavedDays > 0;
    const [metas, readMarkers, urgentMarkers] = await Promise.all([
      this.#blobs.keys(`${prefix}messages/`),
      withTimes ? this.#blobs.list(`${prefix}read/`) : this.#blobs.keys(`${prefix}read/`).then((keys) => keys.map((key) => ({ key, modified: undefined }))),
      this.#blobs.keys(`${prefix}urgent/`),
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

  /**
   * One listing: applies retention, reports expired messages, and counts. Every listing goes
   * through here (the mailbox's messages asked for, or its counts in doubt), and so does retention.
   */
  async #scanLocked(mailbox: Mailbox): Promise<{ scan: Scan; counts: MailboxCounts }> {
    const scan = await this.#scan(mailbox);
    const expired = await this.#expire(mailbox, scan);
    const counts = countsOf(scan);
    for (const id of expired) {
      this.#options.log.info({ mailbox, messageId: id }, 'saved message expired');
      await this.#options.onChange({ mailbox, change: 'message-expired', messageId: id, counts });
    }
    return { scan, counts };
  }

  /** The kept counts (a listing only when none are kept). */
  async #countLocked(mailbox: Mailbox): Promise<MailboxCounts> {
    return this.#options.counts.get(mailbox, async () => (await this.#scanLocked(mailbox)).counts);
  }

  /** The kept counts after a change the mailbox has just undergone. */
  async #counted(mailbox: Mailbox, change: CountsChange): Promise<MailboxCounts> {
    return this.#options.counts.change(mailbox, change, async () => (await this.#scanLocked(mailbox)).counts);
  }

  /** Counts the mailbox by listing it, and keeps what it found. */
  async #recount(mailbox: Mailbox): Promise<MailboxCounts> {
    return this.#locks.run(lockKey(mailbox), async () => this.#options.counts.set(mailbox, (await this.#scanLocked(mailbox)).counts));
  }

  /** Retention: deletes saved messages whose read marker is older than the limit, and drops them from `scan`. */
  async #expire(mailbox: Mailbox, scan: Scan): Promise<MessageId[]> {
    const days = this.#options.retentionSavedDays;
    if (days <= 0) return [];
    const cutoff = Date.now() - days * DAY_MS;
    const expired: MessageId[] = [];
    for (const [id, readAt] of scan.read) {
      if (readAt === undefined || readAt.getTime() >= cutoff || !scan.messages.has(id)) continue;
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
    const counts = await this.#options.counts.get(mailbox, async () => countsOf(await this.#scan(mailbox)));
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
  };
}

interface Scan {
  messages: Set<string>;
  /** Read markers by message id, with when the message was saved (listed only for retention). */
  read: Map<string, Date | undefined>;
  urgent: Set<string>;
}

function countsOf({ messages, read, urgent }: Scan): MailboxCounts {
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

function audioKey(ref: AudioRef): string {
  return ref.kind === 'message' ? messageAudioKey(ref.mailbox, ref.id) : greetingKey(ref.mailbox, ref.type);
}

const lockKey = (m: Mailbox): string => `${m.did}/${m.uid}`;

function safeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
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
