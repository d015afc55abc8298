/**
 * A mailbox's personal greetings (docs/behaviour.md §2, §5): one WAV per type, the temporary
 * greeting's end beside it, and which greeting callers hear along the fallback chain.
 *
 *   the temporary greeting, while it has not ended  (temp)
 *   the greeting of the type the proxy asked for    (busy, unavail, vm, any name)
 *   the vm greeting
 *   the recorded name, followed by the system's phrase (voicemail adds the phrase)
 *   nothing of the subscriber's own: the domain's and the platform's defaults (media's prompts)
 *
 * The temporary greeting comes first: it is what a subscriber records to say they are away, and
 * it must be heard whichever type the proxy asks for (a busy or an unanswered call alike). The
 * whole chain costs one listing of the mailbox's greetings folder, and a read of the temporary
 * greeting's end when there is one.
 */
import { z } from 'zod';
import {
  IsoTimeSchema,
  NAME_GREETING,
  ServiceError,
  TEMPORARY_GREETING,
  type GreetingInfo,
  type GreetingType,
  type Mailbox,
  type ResolvedGreeting,
  type StagedAudio,
} from '@sipvm/contracts';
import { bytesOf, type BlobInfo, type BlobStore } from './blobs.js';
import { classifyMailboxKey, greetingEndKey, greetingKey, mailboxPrefix } from './layout.js';

const GreetingEndSchema = z.strictObject({ until: IsoTimeSchema });

export interface GreetingStoreOptions {
  openStaged: (staged: StagedAudio) => Promise<AsyncIterable<Uint8Array>>;
  /** Now, in milliseconds (a test's clock). */
  now: () => number;
}

export class GreetingStore {
  constructor(
    private readonly blobs: BlobStore,
    private readonly options: GreetingStoreOptions,
  ) {}

  /** Replaces the greeting of `type`; the temporary greeting needs its end, no other has one. */
  async put(mailbox: Mailbox, type: GreetingType, staged: StagedAudio, until?: string): Promise<GreetingInfo> {
    if (type === TEMPORARY_GREETING) {
      if (until === undefined) throw new ServiceError('bad-request', 'the temporary greeting needs its end (until)');
      if (Date.parse(until) <= this.options.now()) throw new ServiceError('bad-request', `the temporary greeting's end (${until}) is past`);
    } else if (until !== undefined) {
      throw new ServiceError('bad-request', `only the temporary greeting (${TEMPORARY_GREETING}) has an end`);
    }
    await this.blobs.put(greetingKey(mailbox, type), await this.options.openStaged(staged), staged.size);
    if (until !== undefined) {
      const end = new TextEncoder().encode(JSON.stringify({ until: new Date(until).toISOString() }));
      await this.blobs.put(greetingEndKey(mailbox, type), bytesOf(end), end.length);
    }
    return this.get(mailbox, type);
  }

  async get(mailbox: Mailbox, type: GreetingType): Promise<GreetingInfo> {
    const info = await this.blobs.head(greetingKey(mailbox, type));
    if (!info) throw new ServiceError('greeting-not-found', `no ${type} greeting for ${mailbox.uid}@${mailbox.did}`);
    const until = type === TEMPORARY_GREETING ? await this.#end(mailbox, type) : undefined;
    return { mailbox, type, size: info.size, updatedAt: info.modified.toISOString(), ...(until !== undefined ? { until } : {}) };
  }

  async delete(mailbox: Mailbox, type: GreetingType): Promise<{ deleted: boolean }> {
    const key = greetingKey(mailbox, type);
    const existed = (await this.blobs.head(key)) !== null;
    await this.blobs.delete(key);
    await this.blobs.delete(greetingEndKey(mailbox, type));
    return { deleted: existed };
  }

  /** What callers hear for `type`, along the chain above. */
  async resolve(mailbox: Mailbox, type: GreetingType): Promise<ResolvedGreeting> {
    const prefix = mailboxPrefix(mailbox);
    const recorded = new Map<string, BlobInfo>();
    for (const blob of await this.blobs.list(`${prefix}greetings/`)) {
      const entry = classifyMailboxKey(prefix, blob.key);
      if (entry?.kind === 'greeting') recorded.set(entry.type, blob);
    }
    const version = (info: BlobInfo) => info.modified.toISOString();
    const temporary = recorded.get(TEMPORARY_GREETING);
    if (temporary) {
      const until = await this.#end(mailbox, TEMPORARY_GREETING);
      if (until !== undefined && Date.parse(until) > this.options.now()) {
        return { greeting: { kind: 'greeting', type: TEMPORARY_GREETING, version: version(temporary) }, validUntil: until };
      }
    }
    for (const candidate of [type, 'vm']) {
      const found = candidate === NAME_GREETING || candidate === TEMPORARY_GREETING ? undefined : recorded.get(candidate);
      if (found) return { greeting: { kind: 'greeting', type: candidate, version: version(found) } };
    }
    const name = recorded.get(NAME_GREETING);
    if (name) return { greeting: { kind: 'name', version: version(name) } };
    return { greeting: { kind: 'default' } };
  }

  async #end(mailbox: Mailbox, type: GreetingType): Promise<string | undefined> {
    const bytes = await this.blobs.get(greetingEndKey(mailbox, type));
    if (!bytes) return undefined;
    try {
      return GreetingEndSchema.parse(JSON.parse(new TextDecoder().decode(bytes))).until;
    } catch {
      return undefined;
    }
  }
}
