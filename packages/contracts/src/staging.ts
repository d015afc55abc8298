/**
 * Staging: audio on its way to storage (recordings, greetings), durable in NATS from the moment it
 * is handed over, so a consumer that dies mid-way starts again from the staged copy.
 *
 * A staged file is one or more messages on its own subject of the JetStream stream VM_STAGING:
 * parts of at most PART_BYTES, the last one naming the others and carrying the size and SHA-256 of
 * the whole. A recording of a minute or less is one message: staging it is one publish, reading
 * it one direct get, discarding it one purge. (A JetStream object store took a metadata lookup,
 * a consumer per read and a digest in JavaScript; per message under load that was most of what
 * staging cost.) Names are free-form ids; the subject carries them base64url-encoded.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { OBJECT_STORES } from './buckets.js';
import { ServiceError, toServiceError } from './errors.js';
import { ensureStreams, STREAMS } from './streams.js';
import { SUBJECTS } from './subjects.js';

export const StagedAudioSchema = z.strictObject({
  /** The staged file's name, unique per recording or upload. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'is not a staged audio name'),
  /** Size in bytes, as staged. */
  size: z.number().int().nonnegative(),
});
export type StagedAudio = z.infer<typeof StagedAudioSchema>;

/** Staged audio older than this is removed by NATS itself (the stream's max age); consumers finish long before. */
export const STAGING_TTL_MS = 7 * 24 * 3600 * 1000;
/** Largest part: inside NATS's default 1 MiB payload, headers included; a minute of the platform's audio. */
const PART_BYTES = 960 * 1024;

const HEADER = {
  size: 'Vm-Staged-Size',
  sha256: 'Vm-Staged-Sha256',
  /** On the last part: the stream sequences of the parts before it, in order. */
  parts: 'Vm-Staged-Parts',
} as const;

/** The staging area of one connection: `stagingBucket(nc)` opens (and first creates) it. */
export interface StagingBucket {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** The JetStream object store earlier versions staged into, if it still exists (read-only). */
  legacy(): Promise<ObjectStore | undefined>;
}

export async function stagingBucket(nc: NatsConnection): Promise<StagingBucket> {
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, ['staging']);
  let legacy: Promise<ObjectStore | undefined> | undefined;
  return {
    js: jetstream(nc),
    jsm,
    legacy: () => (legacy ??= new Objm(nc).open(LEGACY_BUCKET).then(
      (bucket) => bucket,
      () => undefined,
    )),
  };
}

const subjectOf = (name: string) => SUBJECTS.staging.file(Buffer.from(name).toString('base64url'));

/** Streams audio into staging under `name`. */
export async function stageAudio(
  bucket: StagingBucket,
  name: string,
  audio: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<StagedAudio> {
  const subject = subjectOf(name);
  const digest = createHash('sha256');
  const earlier: number[] = [];
  let size = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const publishPart = async (last: boolean) => {
    const part = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const headers = natsHeaders();
    if (last) {
      headers.set(HEADER.size, String(size));
      headers.set(HEADER.sha256, digest.digest('hex'));
      headers.set(HEADER.parts, earlier.join(','));
    }
    const ack = await bucket.js.publish(subject, part, { headers });
    if (!last) earlier.push(ack.seq);
  };
  try {
    const chunks = audio instanceof ReadableStream ? streamChunks(audio) : audio;
    for await (const chunk of chunks) {
      let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      digest.update(bytes);
      size += bytes.length;
      while (pendingBytes + bytes.length > PART_BYTES) {
        const room = PART_BYTES - pendingBytes;
        pending.push(bytes.subarray(0, room));
        pendingBytes += room;
        bytes = bytes.subarray(room);
        await publishPart(false);
      }
      if (bytes.length > 0) {
        pending.push(Buffer.from(bytes));
        pendingBytes += bytes.length;
      }
    }
    await publishPart(true);
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot stage audio ${name}: ${toServiceError(error).message}`, { cause: error });
  }
  return StagedAudioSchema.parse({ name, size });
}

/** Opens staged audio as a stream; audio that is not there (expired, never staged) is `bad-request`. */
export async function openStagedAudio(bucket: StagingBucket, staged: StagedAudio): Promise<ReadableStream<Uint8Array>> {
  const unreachable = (error: unknown) =>
    new ServiceError('service-unavailable', `cannot read staged audio ${staged.name}: ${toServiceError(error).message}`, { cause: error });
  let last: StoredMsg | null;
  try {
    last = await stagedMessage(bucket, { last_by_subj: subjectOf(staged.name) });
  } catch (error) {
    throw unreachable(error);
  }
  if (last === null) return openLegacy(bucket, staged);
  const size = Number(last.header.get(HEADER.size));
  if (size !== staged.size) throw new ServiceError('bad-request', `staged audio ${staged.name} has ${size} bytes, not ${staged.size}`);
  const sequences = last.header.get(HEADER.parts).split(',').filter(Boolean).map(Number);
  const expected = last.header.get(HEADER.sha256);
  const digest = createHash('sha256');
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let part: StoredMsg | null = last;
      if (next < sequences.length) {
        try {
          part = await stagedMessage(bucket, { seq: sequences[next] as number });
        } catch (error) {
          controller.error(unreachable(error));
          return;
        }
        if (part === null || part.subject !== subjectOf(staged.name)) {
          controller.error(new ServiceError('bad-request', `staged audio ${staged.name} lost part ${next + 1} (expired)`));
          return;
        }
      } else if (next > sequences.length) {
        controller.close();
        return;
      }
      next++;
      digest.update(part.data);
      controller.enqueue(part.data);
      if (next > sequences.length) {
        const actual = digest.digest('hex');
        if (actual !== expected) controller.error(new ServiceError('service-unavailable', `staged audio ${staged.name} is corrupt (SHA-256 ${actual}, staged ${expected})`));
        else controller.close();
      }
    },
  });
}

/** Discards staged audio (once it is stored or sent); discarding twice is fine. */
export async function discardStagedAudio(bucket: StagingBucket, staged: StagedAudio): Promise<void> {
  await bucket.jsm.streams.purge(STREAMS.staging.name, { filter: subjectOf(staged.name) });
  const legacy = await bucket.legacy();
  if (legacy) await legacy.delete(staged.name).catch(() => undefined);
}

/** Whether audio of that name is staged now (not yet discarded, not expired). */
export async function isStaged(bucket: StagingBucket, name: string): Promise<boolean> {
  return (await stagedMessage(bucket, { last_by_subj: subjectOf(name) })) !== null;
}

/**
 * A message of the staging stream: a direct get (any replica may answer: cheap), and when that
 * finds nothing, the stream leader's answer. On a NATS cluster a follower may not yet have what
 * was staged a moment ago, and its "not there" must not become a message dropped as expired.
 */
async function stagedMessage(bucket: StagingBucket, query: { last_by_subj: string } | { seq: number }): Promise<StoredMsg | null> {
  return (await bucket.jsm.direct.getMessage(STREAMS.staging.name, query)) ?? (await bucket.jsm.streams.getMessage(STREAMS.staging.name, query));
}

/**
 * Earlier versions staged into a JetStream object store; audio handed over before an upgrade is
 * read from there, so that nothing queued is lost.
 */
const LEGACY_BUCKET = OBJECT_STORES.legacyStaging;

async function openLegacy(bucket: StagingBucket, staged: StagedAudio): Promise<ReadableStream<Uint8Array>> {
  const missing = new ServiceError('bad-request', `staged audio ${staged.name} does not exist (expired or never staged)`);
  const legacy = await bucket.legacy();
  if (!legacy) throw missing;
  const result = await legacy.get(staged.name).catch((error: unknown) => {
    throw new ServiceError('service-unavailable', `cannot read staged audio ${staged.name}: ${toServiceError(error).message}`, { cause: error });
  });
  if (result === null) throw missing;
  if (result.info.size !== staged.size) throw new ServiceError('bad-request', `staged audio ${staged.name} has ${result.info.size} bytes, not ${staged.size}`);
  return result.data;
}

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}
