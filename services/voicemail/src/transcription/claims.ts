/**
 * Who settles a waiting mail (contracts' transcription.ts): the transcriber, with what it heard, or
 * the mail's deadline, without. Whoever writes the mail's claim first (a KV create, which only one
 * writer wins) decides; both sides read the claim that holds, so exactly one copy of the mail goes.
 * A claim outlives every attempt at the mail it settles: the one copy that goes may be retried for
 * days (MAIL_RETRY_DELAYS), and must find the same answer each time.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import { BUCKETS, encodeJson, openKv, TranscriptSchema } from '@sipvm/contracts';

const ClaimSchema = z.discriminatedUnion('by', [
  z.strictObject({ by: z.literal('transcriber'), transcript: TranscriptSchema }),
  z.strictObject({ by: z.literal('deadline') }),
]);
export type Claim = z.infer<typeof ClaimSchema>;

/** Longer than a mail's whole retry budget (under 7 days). */
const CLAIM_TTL_MS = 8 * 24 * 3600 * 1000;

export class TranscriptClaims {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection): Promise<TranscriptClaims> {
    return new TranscriptClaims(
      await openKv(nc, BUCKETS.transcriptClaims, { ttl: CLAIM_TTL_MS, history: 1, description: 'who settled each mail that waits for its transcript' }),
    );
  }

  /** Claims the mail for `claim`'s side unless it is claimed already; the claim that holds. */
  async claim(mailId: string, claim: Claim): Promise<Claim> {
    try {
      await this.kv.create(mailId, encodeJson(claim));
      return claim;
    } catch (error) {
      // Claimed before: by the other side, or by this side on an attempt whose answer was lost.
      const held = await this.get(mailId);
      if (held) return held;
      throw error;
    }
  }

  /** The claim on the mail, if there is one. */
  async get(mailId: string): Promise<Claim | undefined> {
    const entry = await this.kv.get(mailId);
    return entry?.operation === 'PUT' ? ClaimSchema.parse(entry.json()) : undefined;
  }
}
