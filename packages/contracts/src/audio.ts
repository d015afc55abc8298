/**
 * Moving audio between services without NATS payload limits.
 *
 * Writes go through a staging bucket (a JetStream object store): the producer streams the
 * recording in, chunk by chunk, and hands over only its name. The bytes are then durable in NATS,
 * so a consumer that dies mid-way can start again from the staged copy (nothing lost).
 *
 * Reads are ranged chunk requests on core NATS (`readAudio`): stateless, so any storage instance
 * answers any chunk, and at most `window × chunkSize` bytes are in flight.
 */
import { z } from 'zod';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { GreetingTypeSchema, MailboxSchema, MessageIdSchema } from './ids.js';
import { ErrorBodySchema, ServiceError, toServiceError } from './errors.js';
import { decodeJson, encodeJson, natsFailure } from './rpc.js';
import { SUBJECTS } from './subjects.js';
import { jetStreamReplicas } from './streams.js';

// ---------------------------------------------------------------- staging (writes)

/** The object store bucket that carries recordings and greetings on their way to storage. */
export const STAGING_BUCKET = 'vm-staging';
/** Staged audio older than this is removed by NATS itself; consumers finish long before. */
export const STAGING_TTL_MS = 7 * 24 * 3600 * 1000;

export const StagedAudioSchema = z.strictObject({
  /** Object name in the staging bucket. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'is not a staged audio name'),
  /** Size in bytes, as staged. */
  size: z.number().int().nonnegative(),
});
export type StagedAudio = z.infer<typeof StagedAudioSchema>;

export async function stagingBucket(nc: NatsConnection): Promise<ObjectStore> {
  // create() binds to the bucket when it exists, with the same settings.
  return new Objm(nc).create(STAGING_BUCKET, { ttl: STAGING_TTL_MS * 1_000_000, replicas: jetStreamReplicas(), description: 'audio on its way to storage' });
}

/** Streams audio into the staging bucket under `name`. */
export async function stageAudio(
  bucket: ObjectStore,
  name: string,
  audio: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<StagedAudio> {
  const stream = audio instanceof ReadableStream ? audio : ReadableStream.from(audio);
  try {
    const info = await bucket.put({ name }, stream);
    return StagedAudioSchema.parse({ name, size: info.size });
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot stage audio ${name}: ${toServiceError(error).message}`, { cause: error });
  }
}

/** Opens staged audio as a stream; `message-not-found`-like errors are `bad-request` (the name was wrong). */
export async function openStagedAudio(bucket: ObjectStore, staged: StagedAudio): Promise<ReadableStream<Uint8Array>> {
  let result;
  try {
    result = await bucket.get(staged.name);
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot read staged audio ${staged.name}: ${toServiceError(error).message}`, { cause: error });
  }
  if (result === null) throw new ServiceError('bad-request', `staged audio ${staged.name} does not exist (expired or never staged)`);
  if (result.info.size !== staged.size) {
    throw new ServiceError('bad-request', `staged audio ${staged.name} has ${result.info.size} bytes, not ${staged.size}`);
  }
  // The object store checks the SHA-256 digest at the end and reports a mismatch on `error`.
  const digestCheck = result.error;
  const reader = result.data.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) {
        controller.enqueue(value);
        return;
      }
      const problem = await digestCheck;
      if (problem) controller.error(new ServiceError('service-unavailable', `staged audio ${staged.name} is corrupt: ${problem.message}`));
      else controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

export async function discardStagedAudio(bucket: ObjectStore, staged: StagedAudio): Promise<void> {
  await bucket.delete(staged.name);
}

// ---------------------------------------------------------------- the platform's audio format

/**
 * The 44-byte header of a PCM WAV file: 16-bit mono at `sampleRate` (the platform stores and plays
 * 8 kHz), for `dataBytes` of samples. One writer for media's recordings and the tests' fixtures.
 */
export function wavHeader(dataBytes: number, sampleRate = 8000): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export interface WavLayout {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Where the PCM starts. */
  dataOffset: number;
  /** PCM bytes the header announces; undefined when unknown (a stream written before its end). */
  dataSize: number | undefined;
}

/**
 * Finds the fmt and data chunks at the start of a RIFF/WAVE file, skipping other chunks;
 * undefined while `bytes` is too short to tell (more of the file is needed). One reader for
 * media's playback and the web service's uploads.
 */
export function scanWav(bytes: Buffer, what = 'WAV'): WavLayout | undefined {
  if (bytes.length < 12) return undefined;
  if (bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    throw new ServiceError('bad-request', `${what} is not a RIFF/WAVE file`);
  }
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (body + 16 > bytes.length) return undefined;
      fmt = { format: bytes.readUInt16LE(body), channels: bytes.readUInt16LE(body + 2), sampleRate: bytes.readUInt32LE(body + 4), bits: bytes.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt) throw new ServiceError('bad-request', `${what} has data before its fmt chunk`);
      if (fmt.format !== 1 && fmt.format !== 0xfffe) throw new ServiceError('bad-request', `${what} is not PCM (format ${fmt.format})`);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, bitsPerSample: fmt.bits, dataOffset: body, dataSize: size === 0 || size === 0xffffffff ? undefined : size };
    }
    offset = body + size + (size % 2);
  }
  return undefined;
}

// ---------------------------------------------------------------- ranged reads

/** What can be read: a message's audio or a personal greeting. */
export const AudioRefSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('message'), mailbox: MailboxSchema, id: MessageIdSchema }),
  z.strictObject({ kind: z.literal('greeting'), mailbox: MailboxSchema, type: GreetingTypeSchema }),
]);
export type AudioRef = z.infer<typeof AudioRefSchema>;

/** NATS' default max_payload is 1 MiB; a chunk stays well under it with room for headers. */
export const AUDIO_CHUNK_MAX = 512 * 1024;

export const AudioChunkRequestSchema = z.strictObject({
  audio: AudioRefSchema,
  offset: z.number().int().nonnegative(),
  length: z.number().int().positive().max(AUDIO_CHUNK_MAX),
});
export type AudioChunkRequest = z.infer<typeof AudioChunkRequestSchema>;

/** Reply headers of a chunk: total size of the audio, or the error envelope. */
const SIZE_HEADER = 'Vm-Audio-Size';
const ERROR_HEADER = 'Vm-Error';

export interface AudioChunk {
  bytes: Uint8Array;
  /** Size of the whole audio, so the reader knows where it ends. */
  totalSize: number;
}

export interface ReadAudioOptions {
  chunkSize?: number;
  /** Chunk requests kept in flight at once. */
  window?: number;
  timeoutMs?: number;
  /** First byte to read (an HTTP Range): default 0. */
  start?: number;
  /** Stop before this byte: default the end of the audio. */
  end?: number;
}

/**
 * Reads audio from storage as an ordered stream of chunks, from `start` to `end` (the whole audio
 * by default). The first chunk tells the size; the rest are requested `window` at a time.
 */
export async function* readAudio(
  nc: NatsConnection,
  audio: AudioRef,
  options: ReadAudioOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const chunkSize = Math.min(options.chunkSize ?? AUDIO_CHUNK_MAX, AUDIO_CHUNK_MAX);
  const window = Math.max(1, options.window ?? 4);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const start = options.start ?? 0;
  const wantedEnd = options.end ?? Number.POSITIVE_INFINITY;
  if (wantedEnd <= start) return;
  const fetchChunk = (offset: number, length: number): Promise<AudioChunk> =>
    requestChunk(nc, { audio, offset, length }, timeoutMs);

  const first = await fetchChunk(start, Math.min(chunkSize, wantedEnd - start));
  if (first.bytes.length > 0) yield first.bytes;
  const size = first.totalSize;
  const end = Math.min(size, wantedEnd);
  const pending: Promise<AudioChunk>[] = [];
  let next = start + first.bytes.length;
  const refill = () => {
    while (pending.length < window && next < end) {
      pending.push(fetchChunk(next, Math.min(chunkSize, end - next)));
      next += chunkSize;
    }
  };
  refill();
  try {
    while (pending.length > 0) {
      const chunk = await pending.shift()!;
      if (chunk.totalSize !== size) throw new ServiceError('storage-unavailable', 'audio changed while it was being read');
      refill();
      yield chunk.bytes;
    }
  } finally {
    // Settle what is still in flight so no rejection goes unhandled when a reader stops early.
    await Promise.allSettled(pending);
  }
}

async function requestChunk(nc: NatsConnection, req: AudioChunkRequest, timeoutMs: number): Promise<AudioChunk> {
  let msg: Msg;
  try {
    msg = await nc.request(SUBJECTS.storage.audioRead, encodeJson(req), { timeout: timeoutMs });
  } catch (error) {
    throw natsFailure(error, SUBJECTS.storage.audioRead, timeoutMs);
  }
  const failure = msg.headers?.get(ERROR_HEADER);
  if (failure) {
    const body = ErrorBodySchema.safeParse(JSON.parse(failure));
    if (!body.success) throw new ServiceError('internal', 'malformed error header in audio chunk reply');
    throw new ServiceError(body.data.kind, body.data.message);
  }
  const totalSize = Number(msg.headers?.get(SIZE_HEADER));
  if (!Number.isSafeInteger(totalSize) || totalSize < 0) throw new ServiceError('internal', 'audio chunk reply has no size');
  return { bytes: msg.data, totalSize };
}

/** Serves ranged audio reads; `readChunk` returns at most `length` bytes from `offset`. */
export function serveAudioChunks(
  nc: NatsConnection,
  readChunk: (req: AudioChunkRequest) => Promise<AudioChunk>,
  options: { queue?: string; onError?: (error: ServiceError) => void } = {},
): Subscription {
  return nc.subscribe(SUBJECTS.storage.audioRead, {
    ...(options.queue !== undefined ? { queue: options.queue } : {}),
    callback: (subError, msg) => {
      if (subError) return;
      void (async () => {
        const h = natsHeaders();
        let body: Uint8Array = new Uint8Array(0);
        try {
          const req = decodeJson(AudioChunkRequestSchema, msg.data, SUBJECTS.storage.audioRead);
          const chunk = await readChunk(req);
          h.set(SIZE_HEADER, String(chunk.totalSize));
          body = chunk.bytes;
        } catch (error) {
          const failure = toServiceError(error);
          options.onError?.(failure);
          h.set(ERROR_HEADER, JSON.stringify(failure.toBody()));
        }
        if (msg.reply) msg.respond(body, { headers: h });
      })();
    },
  });
}
