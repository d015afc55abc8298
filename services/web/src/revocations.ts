/**
 * Withdrawing a mailbox's tokens before they expire. The operator sets the mailbox's "not
 * before" time; tokens issued at or before it are refused from then on, by every instance. The
 * times live in a NATS KV bucket that every instance watches into memory, so checking a token
 * stays a lookup in a map (no request per HTTP request), and a new instance starts with them all.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import { BUCKETS, encodeJson, normaliseMailbox, openKv, type Mailbox } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import type { MailboxToken } from './tokens.js';

export const REVOCATIONS_BUCKET = BUCKETS.webRevocations;

/** What the bucket holds per mailbox: tokens issued at or before this second are refused. */
const RevocationSchema = z.strictObject({ notBefore: z.number().int().nonnegative() });

/** KV keys allow letters, digits and - _ = . /: the mailbox, encoded. */
const keyOf = (mailbox: Mailbox): string => {
  const { did, uid } = normaliseMailbox(mailbox);
  return Buffer.from(`${did}\n${uid}`).toString('base64url');
};

export class Revocations {
  readonly #notBefore = new Map<string, number>();
  #watcher: { stop(): void } | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  static async open(nc: NatsConnection, log: Logger): Promise<Revocations> {
    const revocations = new Revocations(await openKv(nc, REVOCATIONS_BUCKET, { history: 1 }), log);
    await revocations.#follow();
    return revocations;
  }

  /** Whether the token was issued before its mailbox's tokens were withdrawn. */
  revoked(token: MailboxToken): boolean {
    return token.issuedAt <= (this.#notBefore.get(keyOf(token.mailbox)) ?? -1);
  }

  /** The second a token issued now must carry to outlive a withdrawal made in this same second. */
  issueSecond(mailbox: Mailbox, now = Date.now()): number {
    return Math.max(Math.floor(now / 1000), (this.#notBefore.get(keyOf(mailbox)) ?? -1) + 1);
  }

  /** Withdraws every token of the mailbox issued up to now; returns the "not before" second. */
  async revoke(mailbox: Mailbox, now = Date.now()): Promise<number> {
    const notBefore = Math.floor(now / 1000);
    const key = keyOf(mailbox);
    await this.kv.put(key, encodeJson({ notBefore }));
    // This instance refuses them at once; the others as soon as their watch sees the change.
    this.#notBefore.set(key, Math.max(notBefore, this.#notBefore.get(key) ?? -1));
    return notBefore;
  }

  stop(): void {
    this.#watcher?.stop();
  }

  /** Reads every entry, then keeps following changes until stopped. */
  async #follow(): Promise<void> {
    const watcher = await this.kv.watch();
    this.#watcher = watcher;
    let loaded!: () => void;
    const initial = new Promise<void>((resolve) => (loaded = resolve));
    // An empty bucket has no initial values to wait for.
    if ((await this.kv.status()).values === 0) loaded();
    void (async () => {
      for await (const entry of watcher) {
        if (entry.operation === 'PUT') {
          const parsed = RevocationSchema.safeParse(entry.json());
          if (parsed.success) this.#notBefore.set(entry.key, parsed.data.notBefore);
          else this.log.error({ key: entry.key }, 'malformed token revocation ignored');
        } else {
          this.#notBefore.delete(entry.key);
        }
        if (entry.delta === 0) loaded();
      }
    })();
    await initial;
  }
}
