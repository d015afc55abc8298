/**
 * Moving audio between services without NATS payload limits, and the platform's audio format.
 *
 * Writes go through staging (staging.ts): the producer streams the recording in and hands over
 * only its name. Reads of stored audio are ranged chunk requests on core NATS (`readAudio`):
 * stateless, so any storage instance answers any chunk, and at most `window × chunkSize` bytes are
 * in flight.
 */
import { z } from 'zod';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { GreetingTypeSchema, MailboxSchema, MessageIdSchema } from './ids.js';
import { ErrorBodySchema, ServiceError, toServiceError } from './errors.js';
import { ask } from './replies.js';
import { decodeJson, encodeJson } from './rpc.js';
import { SUBJECTS } from './subjects.js';

// ---------------------------------------------------------------- the platform's audio format

/**
 * The level of the loudest 20 ms frame of 16-bit samples, in dBFS (−Infinity for digital
 * silence): what tells a message of silence or line noise from speech. Fed sample by sample, so
 * a recording can be measured as it is converted or as it streams by.
 */
export class LoudestFrame {
  readonly #frameSize: number;
  #sum = 0;
  #count = 0;
  #loudest = 0; // mean square of the loudest frame

  constructor(samplesPerSecond = 8000) {
    this.#frameSize = Math.max(1, Math.round(samplesPerSecond / 50));
  }

  add(sample: number): void {
    this.#sum += sample * sample;
    if (++this.#count === this.#frameSize) this.#closeFrame();
  }

  addAll(samples: Int16Array): void {
    // The same as add() per sample, with the state in locals: this runs over every recording.
    let sum = this.#sum;
    let count = this.#count;
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i]!;
      sum += sample * sample;
      if (++count === this.#frameSize) {
        this.#loudest = Math.max(this.#loudest, sum / count);
        sum = 0;
        count = 0;
      }
    }
    this.#sum = sum;
    this.#count = count;
  }

  get dbfs(): number {
    const loudest = this.#count > 0 ? Math.max(this.#loudest, this.#sum / this.#count) : this.#loudest;
    return loudest === 0 ? -Infinity : 10 * Math.log10(loudest / (32768 * 32768));
  }

  #closeFrame(): void {
    this.#loudest = Math.max(this.#loudest, this.#sum / this.#count);
    this.#sum = 0;
    this.#count = 0;
  }
}

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
  /** The WAVE format code: 1 PCM (0xfffe extensible), 6 A-law, 7 µ-law, … */
  format: number;
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
 * media's playback, the web service's uploads and the SEMS importer, which takes any encoding
 * (`pcmOnly: false`) to convert it.
 */
export function scanWav(bytes: Buffer, what = 'WAV', { pcmOnly = true }: { pcmOnly?: boolean } = {}): WavLayout | undefined {
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
      fmt = {
        format: bytes.readUInt16LE(body),
        channels: bytes.readUInt16LE(body + 2),
        sampleRate: bytes.readUInt32LE(body + 4),
        bits: bytes.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) throw new ServiceError('bad-request', `${what} has data before its fmt chunk`);
      if (pcmOnly && fmt.format !== 1 && fmt.format !== 0xfffe) throw new ServiceError('bad-request', `${what} is not PCM (format ${fmt.format})`);
      return {
        format: fmt.format,
        sampleRate: fmt.sampleRate,
        channels: fmt.channels,
        bitsPerSample: fmt.bits,
        dataOffset: body,
        dataSize: size === 0 || size === 0xffffffff ? undefined : size,
      };
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
export async function* readAudio(nc: NatsConnection, audio: AudioRef, options: ReadAudioOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const chunkSize = Math.min(options.chunkSize ?? AUDIO_CHUNK_MAX, AUDIO_CHUNK_MAX);
  const window = Math.max(1, options.window ?? 4);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const start = options.start ?? 0;
  const wantedEnd = options.end ?? Number.POSITIVE_INFINITY;
  if (wantedEnd <= start) return;
  const fetchChunk = (offset: number, length: number): Promise<AudioChunk> => requestChunk(nc, { audio, offset, length }, timeoutMs);

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
  const msg = await ask(nc, SUBJECTS.storage.audioRead, encodeJson(req), undefined, timeoutMs);
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
