/**
 * Staging: audio on its way to storage (recordings, greetings), durable in NATS from the moment it
 * is handed over, so a consumer that dies mid-way starts again from the staged copy.
 *
 * A staged file is one or more messages on its own subject of the JetStream stream VM_STAGING:
 * parts of at most PART_BYTES, the last one naming the others and carrying the size and SHA-256 of
 * the whole. A recording of a minute or less is one message: staging it is one publish, reading
 * it one direct get, discarding it one delete. (A JetStream object store took a metadata lookup,
 * a consumer per read and a digest in JavaScript; per message under load that was most of what
 * staging cost.) Names are free-form ids; the subject carries them base64url-encoded.
 *
 * Discarding deletes the parts by their stream sequences, which the reference carries: a purge by
 * subject made nats-server 2.9 remove the stream's block file whenever it emptied and create a new
 * one for the next recording — a file created and removed per call.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import { ServiceError, toServiceError } from './errors.js';
import { ensureStreams, STREAMS } from './streams.js';
import { SUBJECTS } from './subjects.js';

export const StagedAudioSchema = z.strictObject({
  /** The staged file's name, unique per recording or upload. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'is not a staged audio name'),
  /** Size in bytes, as staged. */
  size: z.number().int().nonnegative(),
  /** The stream sequences of its parts, in order (to discard it without a purge); absent: found by name. */
  seqs: z.array(z.number().int().positive()).max(4096).optional(),
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
}

export async function stagingBucket(nc: NatsConnection): Promise<StagingBucket> {
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, ['staging']);
  return { js: jetstream(nc), jsm };
}

const subjectOf = (name: string) => SUBJECTS.staging.file(Buffer.from(name).toString('base64url'));

/** Streams audio into staging under `name`. */
export async function stageAudio(bucket: StagingBucket, name: string, audio: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<StagedAudio> {
  const subject = subjectOf(name);
  const digest = createHash('sha256');
  const earlier: number[] = [];
  const seqs: number[] = [];
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
    seqs.push(ack.seq);
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
  return StagedAudioSchema.parse({ name, size, ...(seqs.length <= 4096 ? { seqs } : {}) });
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
  if (last === null) throw new ServiceError('bad-request', `staged audio ${staged.name} does not exist (expired or never staged)`);
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
        if (actual !== expected)
          controller.error(new ServiceError('service-unavailable', `staged audio ${staged.name} is corrupt (SHA-256 ${actual}, staged ${expected})`));
        else controller.close();
      }
    },
  });
}

/** Discards staged audio (once it is stored or sent); discarding twice is fine. */
export async function discardStagedAudio(bucket: StagingBucket, staged: StagedAudio): Promise<void> {
  if (!staged.seqs) {
    await bucket.jsm.streams.purge(STREAMS.staging.name, { filter: subjectOf(staged.name) });
    return;
  }
  for (const seq of staged.seqs) {
    try {
      await bucket.jsm.streams.deleteMessage(STREAMS.staging.name, seq, false);
    } catch (error) {
      // Deleted already (discarded twice, or expired): what was asked for is so.
      if (!(error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.NoMessageFound || /no message found|not found/i.test(error.message))))
        throw error;
    }
  }
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

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}
