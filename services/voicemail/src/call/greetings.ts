/**
 * Which personal greeting a mailbox has, looked up in storage and kept a while: most callers reach
 * mailboxes that have none, and asking storage for every call (a request, a file looked up, a
 * refusal answered) was a tenth of what a call cost voicemail and storage. Storage announces every
 * greeting recorded or deleted (GreetingChangedEvent), which ends what is kept at once; the time
 * kept (VM_GREETING_CACHE_MS) bounds how long a lost announcement (a reconnect) can mislead.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  decodeJson,
  GreetingChangedEventSchema,
  isServiceError,
  request,
  StorageApi,
  SUBJECTS,
  type GreetingType,
  type Mailbox,
} from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';

/** A mailbox's greeting of one type: its version (storage's time of recording), or none. */
export type GreetingLookup = { version: string } | { none: true };

interface Kept {
  lookup: GreetingLookup;
  until: number;
}

/** Mailboxes remembered at most (the oldest go first): bounded whatever the number of mailboxes. */
const MAX_KEPT = 50_000;

export class Greetings {
  readonly #kept = new Map<string, Kept>();
  #subscription: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: { keepMs: number; log: Logger },
  ) {}

  /** Listens for storage's announcements; call before the first look-up. */
  start(): void {
    this.#subscription = this.nc.subscribe(SUBJECTS.storage.greetingChanged, {
      callback: (_error, msg) => {
        try {
          const event = decodeJson(GreetingChangedEventSchema, msg.data, 'greeting changed');
          this.#kept.delete(keyOf(event.mailbox, event.type));
        } catch (error) {
          this.options.log.warn({ err: String(error) }, 'greeting announcement refused');
        }
      },
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }

  /** The greeting of `type`; throws only when storage cannot be asked (the caller then plays a default). */
  async lookup(mailbox: Mailbox, type: GreetingType, callId: string): Promise<GreetingLookup> {
    const key = keyOf(mailbox, type);
    const kept = this.#kept.get(key);
    if (kept && kept.until > Date.now()) return kept.lookup;
    let lookup: GreetingLookup;
    try {
      const { greeting } = await request(this.nc, StorageApi.getGreeting, { mailbox, type }, { callId, timeoutMs: 2_000 });
      lookup = { version: greeting.updatedAt };
    } catch (error) {
      if (!isServiceError(error, 'greeting-not-found')) throw error;
      lookup = { none: true };
    }
    if (this.options.keepMs > 0) this.#keep(key, lookup);
    return lookup;
  }

  #keep(key: string, lookup: GreetingLookup): void {
    this.#kept.delete(key);
    this.#kept.set(key, { lookup, until: Date.now() + this.options.keepMs });
    if (this.#kept.size > MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value as string);
  }
}

const keyOf = (mailbox: Mailbox, type: GreetingType) => `${mailbox.did}\n${mailbox.uid}\n${type}`;
