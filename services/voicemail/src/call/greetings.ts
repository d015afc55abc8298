/**
 * Which greeting a mailbox's callers hear, resolved by storage along the whole fallback chain in
 * one request (StorageApi.resolveGreeting: the temporary greeting, the type the proxy asked for,
 * `vm`, the recorded name) and kept a while: most callers reach mailboxes that have none, and asking
 * storage for every call (a request, a folder looked at, an answer) was a tenth of what a call cost
 * voicemail and storage. Storage announces every greeting recorded or deleted
 * (GreetingChangedEvent), which ends what is kept of that mailbox at once; an answer also ends by
 * itself when it says it does (a temporary greeting's end); the time kept (VM_GREETING_CACHE_MS)
 * bounds how long a lost announcement (a reconnect) can mislead.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  decodeJson,
  GreetingChangedEventSchema,
  request,
  StorageApi,
  SUBJECTS,
  type GreetingType,
  type Mailbox,
  type ResolvedGreeting,
} from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';

interface Kept {
  resolved: ResolvedGreeting['greeting'];
  until: number;
}

/** Mailboxes remembered at most (the oldest go first): bounded whatever the number of mailboxes. */
const MAX_KEPT = 50_000;

export class Greetings {
  /** By mailbox, then by the type asked for. */
  readonly #kept = new Map<string, Map<GreetingType, Kept>>();
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
          // Any greeting of the mailbox may change the answer for every type (vm, temp and name stand in for the others).
          this.#kept.delete(keyOf(event.mailbox));
        } catch (error) {
          this.options.log.warn({ err: String(error) }, 'greeting announcement refused');
        }
      },
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }

  /** What callers hear for `type`; throws only when storage cannot be asked (the caller then plays a default). */
  async resolve(mailbox: Mailbox, type: GreetingType, callId: string): Promise<ResolvedGreeting['greeting']> {
    const key = keyOf(mailbox);
    const now = Date.now();
    const kept = this.#kept.get(key)?.get(type);
    if (kept && kept.until > now) return kept.resolved;
    const { greeting, validUntil } = await request(this.nc, StorageApi.resolveGreeting, { mailbox, type }, { callId, timeoutMs: 2_000 });
    if (this.options.keepMs > 0) {
      const until = Math.min(now + this.options.keepMs, validUntil === undefined ? Infinity : Date.parse(validUntil));
      const types = this.#kept.get(key) ?? new Map<GreetingType, Kept>();
      types.set(type, { resolved: greeting, until });
      this.#kept.delete(key);
      this.#kept.set(key, types);
      if (this.#kept.size > MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value as string);
    }
    return greeting;
  }
}

const keyOf = (mailbox: Mailbox) => `${mailbox.did}\n${mailbox.uid}`;
