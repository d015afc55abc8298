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
import type { KV } from '@nats-io/kv';
import type { z } from 'zod';
import { encodeJson, isRevisionConflict, untilAvailable } from '@sipvm/contracts';

const REMEMBERED = 10_000;
const PATIENCE_MS = 15_000;

export interface Versioned<R> {
  record: R;
  revision: number;
}

export class CallRecords<R> {
  readonly #known = new Map<string, Versioned<R>>();

  constructor(
    private readonly kv: KV,
    private readonly schema: z.ZodType<R>,
  ) {}

  /** The record as this instance last saw it, or as stored; undefined when there is none. */
  async get(callRef: string, fresh = false): Promise<Versioned<R> | undefined> {
    const known = fresh ? undefined : this.#known.get(callRef);
    if (known) return known;
    const entry = await untilAvailable(() => this.kv.get(callRef), { deadlineMs: PATIENCE_MS });
    if (!entry || entry.operation !== 'PUT') {
      this.#known.delete(callRef);
      return undefined;
    }
    return this.#remember(callRef, { record: this.schema.parse(entry.json()), revision: entry.revision });
  }

  /** Stores a new call; false when it exists already (a repeated start event). */
  async create(callRef: string, record: R): Promise<boolean> {
    try {
      const revision = await untilAvailable(() => this.kv.create(callRef, encodeJson(record)), { deadlineMs: PATIENCE_MS, isFinal: isRevisionConflict });
      this.#remember(callRef, { record, revision });
      return true;
    } catch (error) {
      if (isRevisionConflict(error)) return false;
      throw error;
    }
  }

  /** Writes `record` if the stored one is still `after`; false when someone else changed it first. */
  async replace(callRef: string, record: R, after: number): Promise<boolean> {
    try {
      const revision = await untilAvailable(() => this.kv.update(callRef, encodeJson(record), after), { deadlineMs: PATIENCE_MS, isFinal: isRevisionConflict });
      this.#remember(callRef, { record, revision });
      return true;
    } catch (error) {
      this.#known.delete(callRef);
      if (isRevisionConflict(error)) return false;
      throw error;
    }
  }

  async delete(callRef: string): Promise<void> {
    this.#known.delete(callRef);
    await untilAvailable(() => this.kv.delete(callRef), { deadlineMs: PATIENCE_MS });
  }

  #remember(callRef: string, versioned: Versioned<R>): Versioned<R> {
    this.#known.delete(callRef);
    this.#known.set(callRef, versioned);
    if (this.#known.size > REMEMBERED) this.#known.delete(this.#known.keys().next().value as string);
    return versioned;
  }
}
