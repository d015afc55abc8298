/**
 * Call records in a NATS KV bucket, changed only by compare-and-set: any instance may take any
 * event of any call, and two that take events of one call at once cannot both win.
 *
 * The last revision this instance wrote or read is remembered, so the usual case — the same
 * instance takes the call's next event — writes without reading first; when another instance
 * changed the record meanwhile, the write is refused and the record is read again.
 *
 * While the bucket has no leader (a NATS server died and the cluster elects another) every
 * operation waits, up to PATIENCE_MS: a refusal then is not another instance's change, and an event
 * of the call must not be dropped for it.
 */
import { randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { z } from 'zod';
import { encodeJson, isRevisionConflict, untilAvailable } from '@sipvm/contracts';

const REMEMBERED = 10_000;
/** The field of a stored record that names the write that stored it (dropped when read). */
const WRITTEN_BY = 'writtenBy';
const PATIENCE_MS = 15_000;

export interface Versioned<R> {
  record: R;
  revision: number;
}

export class CallRecords<R> {
  readonly #known = new Map<string, Versioned<R>>();

  /** `erase` removes a record for good, without a delete marker (contracts' `eraseKvKey`). */
  constructor(
    private readonly kv: KV,
    private readonly schema: z.ZodType<R>,
    private readonly erase: (callRef: string) => Promise<void>,
  ) {}

  /** The record as this instance last saw it, or as stored; undefined when there is none. */
  async get(callRef: string, fresh = false): Promise<Versioned<R> | undefined> {
    const known = fresh ? undefined : this.#known.get(callRef);
    if (known) return known;
    const stored = await this.#read(callRef);
    if (!stored) {
      this.#known.delete(callRef);
      return undefined;
    }
    const { [WRITTEN_BY]: _mark, ...fields } = stored.fields;
    return this.#remember(callRef, { record: this.schema.parse(fields), revision: stored.revision });
  }

  /** Stores a new call; false when it exists already (the start was offered again). */
  create(callRef: string, record: R): Promise<boolean> {
    return this.#write(callRef, record, (data) => this.kv.create(callRef, data));
  }

  /** Writes `record` if the stored one is still `after`; false when someone else changed it first. */
  replace(callRef: string, record: R, after: number): Promise<boolean> {
    return this.#write(callRef, record, (data) => this.kv.update(callRef, data, after));
  }

  /**
   * A compare-and-set write, waiting out an election. A write whose reply was lost (the bucket's
   * leader stored it and died) is refused when tried again, as if another instance had written
   * first; each write's mark in the stored record tells the two apart, so that the event's actions
   * are not dropped for a change that was this instance's own.
   */
  async #write(callRef: string, record: R, write: (data: Uint8Array) => Promise<number>): Promise<boolean> {
    const mark = randomUUID();
    const data = encodeJson({ ...record, [WRITTEN_BY]: mark });
    let unanswered = false;
    const attempt = async () => {
      try {
        return await write(data);
      } catch (error) {
        if (!isRevisionConflict(error)) unanswered = true;
        throw error;
      }
    };
    let revision: number;
    try {
      revision = await untilAvailable(attempt, { deadlineMs: PATIENCE_MS, isFinal: isRevisionConflict });
    } catch (error) {
      this.#known.delete(callRef);
      if (!isRevisionConflict(error)) throw error;
      const stored = unanswered ? await this.#read(callRef) : undefined;
      if (stored?.fields[WRITTEN_BY] !== mark) return false;
      revision = stored.revision;
    }
    this.#remember(callRef, { record, revision });
    return true;
  }

  /** The stored record as written (its mark included) and its revision; undefined when there is none. */
  async #read(callRef: string): Promise<{ fields: Record<string, unknown>; revision: number } | undefined> {
    const entry = await untilAvailable(() => this.kv.get(callRef), { deadlineMs: PATIENCE_MS });
    return entry?.operation === 'PUT' ? { fields: entry.json<Record<string, unknown>>(), revision: entry.revision } : undefined;
  }

  /** The call is over: its record goes, leaving nothing behind in the bucket. */
  async delete(callRef: string): Promise<void> {
    this.#known.delete(callRef);
    await untilAvailable(() => this.erase(callRef), { deadlineMs: PATIENCE_MS });
  }

  #remember(callRef: string, versioned: Versioned<R>): Versioned<R> {
    this.#known.delete(callRef);
    this.#known.set(callRef, versioned);
    if (this.#known.size > REMEMBERED) this.#known.delete(this.#known.keys().next().value as string);
    return versioned;
  }
}
