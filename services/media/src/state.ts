/**
 * What must outlive one media process lives in a NATS KV bucket, keyed by callRef: the session
 * (so digits and commands still find their call after a restart) and the recording (so a restarted
 * or second instance can stop it and deliver the WAV). Everything else is rebuilt from these.
 *
 * While the bucket has no leader (a NATS server died) the operations of calls in progress wait,
 * up to PATIENCE_MS, so that a recording whose audio rtpengine is already writing is not given up.
 * Opening a session waits less (SESSION_OPEN_PATIENCE_MS, inside signaling's MEDIA_TIMEOUT_MS):
 * every node shares the bucket, so refusing would not send the call to a node that can take it,
 * and a caller who hears ringing a moment longer is better off than one who hears a failure.
 * Sequence: docs/flows/hangup-and-handover.md
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import {
  ApplicationSchema,
  BUCKETS,
  CallIdSchema,
  CallRefSchema,
  EndOnSilenceSchema,
  eraseKvKey,
  IsoTimeSchema,
  openKv,
  RecordingSchema,
  ServiceError,
  untilAvailable,
  type BucketName,
} from '@sipvm/contracts';
import { RECORDABLE } from './sdp.js';

export const MEDIA_STATE_BUCKET = BUCKETS.mediaState;
const PATIENCE_MS = 10_000;
/** How long the bucket of delivered recordings (read only, see getRecording) keeps what an earlier version put there. */
const DELIVERED_TTL_MS = 15 * 60 * 1000;
/** Elections measured here take 1 to 6 s; most new calls get through, none waits past signaling's 5 s. */
export const SESSION_OPEN_PATIENCE_MS = 3_000;

export const SessionStateSchema = z.strictObject({
  callRef: CallRefSchema,
  callId: CallIdSchema,
  app: ApplicationSchema,
  codec: z.enum(RECORDABLE),
  payloadType: z.number().int().min(0).max(127),
  instance: z.string(),
  /** The media node: its rtpengine holds the call. */
  node: z.string(),
  sdpAnswer: z.string(),
  openedAt: IsoTimeSchema,
});
export type SessionState = z.infer<typeof SessionStateSchema>;

export const RecordingStateSchema = z.strictObject({
  callRef: CallRefSchema,
  callId: CallIdSchema,
  app: ApplicationSchema,
  codec: z.enum(RECORDABLE),
  payloadType: z.number().int().min(0).max(127),
  startedAt: IsoTimeSchema,
  maxDurationMs: z.number().int().positive(),
  /** Sustained silence ends it (silence.ts). */
  endOnSilence: EndOnSilenceSchema.optional(),
  /** Set when silence ended it: it is delivered without the trailing silence. */
  endedBy: z.enum(['silence']).optional(),
  /** Which rtpengine writes the pcap (host name and ng address): only media beside it can deliver. */
  recorder: z.string(),
  /** rtpengine's pcaps of this call that existed before this recording started. */
  earlierPcaps: z.array(z.string()),
  /** `recording`: rtpengine records; `stopped`: rtpengine stopped (max length or call closed), pcap waits. */
  state: z.enum(['recording', 'stopped', 'delivered']),
  /** Set once delivered, so a repeated stop returns the same recording. */
  delivered: RecordingSchema.optional(),
});
export type RecordingState = z.infer<typeof RecordingStateSchema>;

export class MediaState {
  private constructor(
    private readonly kv: KV,
    private readonly delivered: KV,
    private readonly jsm: JetStreamManager,
  ) {}

  static async open(nc: NatsConnection, ttlMs: number): Promise<MediaState> {
    const kv = await openKv(nc, MEDIA_STATE_BUCKET, { ttl: ttlMs, history: 1, description: 'media sessions and recordings by callRef' });
    const delivered = await openKv(nc, BUCKETS.mediaDelivered, { ttl: DELIVERED_TTL_MS, history: 1, description: 'recordings media handed over lately' });
    return new MediaState(kv, delivered, await jetstreamManager(nc));
  }

  /** Stores a new session; resolves to how long it waited for the bucket to have a leader. */
  async putSession(s: SessionState): Promise<{ waitedMs: number }> {
    const key = `session.${s.callRef}`;
    const started = performance.now();
    let lastAttempt = started;
    const attempt = () => {
      lastAttempt = performance.now();
      return this.kv.put(key, JSON.stringify(s));
    };
    await this.#reach(key, attempt, SESSION_OPEN_PATIENCE_MS);
    return { waitedMs: Math.round(lastAttempt - started) };
  }
  getSession(callRef: string) {
    return this.#get(this.kv, `session.${callRef}`, SessionStateSchema);
  }
  deleteSession(callRef: string) {
    return this.#erase(MEDIA_STATE_BUCKET, `session.${callRef}`);
  }
  /** Every open session of every node (a scan: for recovery, not for calls). */
  sessions(): Promise<SessionState[]> {
    return this.#all('session', SessionStateSchema);
  }
  /**
   * A recording is `recording.<callRef>` from its start until its call is over: delivered, it
   * stays (a stop asked again, by a hand-over retried on another application instance, returns the
   * same recording) until the application releases it (`releaseRecording`, once the call's record
   * is gone) or, should that release be lost, until the bucket's TTL. Erased, not left to expire:
   * expiring 50 entries a second nearly doubled nats-server's CPU per call (BENCHMARKS.md, soak).
   */
  putRecording(r: RecordingState): Promise<void> {
    return this.#put(this.kv, `recording.${r.callRef}`, r);
  }
  /** The recording of a call; one an earlier version delivered is in the bucket it kept those in, for its TTL. */
  async getRecording(callRef: string): Promise<RecordingState | undefined> {
    return (await this.#get(this.kv, `recording.${callRef}`, RecordingStateSchema)) ?? this.#get(this.delivered, callRef, RecordingStateSchema);
  }
  /** A delivered recording nobody will ask for again. */
  releaseRecording(callRef: string): Promise<void> {
    return this.#erase(MEDIA_STATE_BUCKET, `recording.${callRef}`);
  }
  async deleteRecording(callRef: string): Promise<void> {
    await this.#erase(MEDIA_STATE_BUCKET, `recording.${callRef}`);
    await this.#erase(BUCKETS.mediaDelivered, callRef);
  }

  /** The recordings still open (after a restart: which ones this rtpengine still writes). */
  recordings(): Promise<RecordingState[]> {
    return this.#all('recording', RecordingStateSchema);
  }

  /** Every entry under `<prefix>.`, those that cannot be read left out (a scan, not for calls). */
  async #all<S extends z.ZodType>(prefix: string, schema: S): Promise<z.output<S>[]> {
    const keys: string[] = [];
    await this.#reach(`${prefix}.*`, async () => {
      for await (const key of await this.kv.keys(`${prefix}.*`)) keys.push(key);
    });
    const found = await Promise.all(keys.map((key) => this.#get(this.kv, key, schema).catch(() => undefined)));
    return found.filter((entry) => entry !== undefined);
  }

  async #put(kv: KV, key: string, value: unknown, patienceMs = PATIENCE_MS): Promise<void> {
    await this.#reach(key, () => kv.put(key, JSON.stringify(value)), patienceMs);
  }

  async #get<S extends z.ZodType>(kv: KV, key: string, schema: S): Promise<z.output<S> | undefined> {
    const entry = await this.#reach(key, () => kv.get(key));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    const parsed = schema.safeParse(entry.json());
    if (!parsed.success) throw new ServiceError('internal', `media state ${key} is malformed`);
    return parsed.data;
  }

  /** Removed for good, not marked deleted (eraseKvKey says why). */
  async #erase(bucket: BucketName, key: string): Promise<void> {
    await this.#reach(key, () => eraseKvKey(this.jsm, bucket, key));
  }

  /** A KV operation whose failure is `service-unavailable` (NATS is the problem, not the request). */
  async #reach<T>(key: string, operation: () => Promise<T>, patienceMs = PATIENCE_MS): Promise<T> {
    try {
      return await untilAvailable(operation, { deadlineMs: patienceMs });
    } catch (error) {
      throw unavailable(key, error);
    }
  }
}

function unavailable(key: string, error: unknown): ServiceError {
  return new ServiceError('service-unavailable', `media state ${key} cannot be reached in NATS: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}
