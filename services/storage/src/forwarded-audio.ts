/**
 * The audio of a forwarded message: the introduction the forwarder recorded, then the message, as
 * one WAV — streamed from the stored message in chunks, never held whole (an hour-long message is
 * forwarded as cheaply as a short one). The introduction is short (a minute at most) and read
 * into memory to learn its length.
 */
import { scanWav, ServiceError, wavHeader, type WavLayout } from '@sipvm/contracts';
import type { BlobStore } from './blobs.js';

/** Bytes read from the stored message at a time. */
const CHUNK = 512 * 1024;
/** The longest introduction taken: ten minutes of 8 kHz 16-bit audio, far above what a forwarder says. */
const INTRODUCTION_MAX_BYTES = 10 * 60 * 16_000 + 4096;

export interface ForwardedAudio {
  size: number;
  durationMs: number;
  open(): AsyncIterable<Uint8Array>;
}

export async function forwardedAudio(blobs: BlobStore, messageKey: string, introduction: AsyncIterable<Uint8Array> | undefined): Promise<ForwardedAudio> {
  const head = await blobs.read(messageKey, 0, 64 * 1024);
  if (!head) throw new ServiceError('message-not-found', 'the message to forward has no audio');
  const message = scanWav(Buffer.from(head.bytes), 'the message');
  if (!message) throw new ServiceError('internal', 'the stored message is not a WAV file');
  const messageData = Math.min(message.dataSize ?? head.totalSize - message.dataOffset, head.totalSize - message.dataOffset);
  const stored = (from: number, length: number) => chunksOf(blobs, messageKey, from, length);
  if (!introduction) {
    return { size: head.totalSize, durationMs: durationOf(message, messageData), open: () => stored(0, head.totalSize) };
  }
  const intro = await collect(introduction);
  const layout = scanWav(intro, 'the introduction');
  if (!layout) throw new ServiceError('bad-request', 'the introduction is not a whole WAV file');
  if (
    layout.sampleRate !== message.sampleRate ||
    layout.channels !== 1 ||
    message.channels !== 1 ||
    layout.bitsPerSample !== 16 ||
    message.bitsPerSample !== 16
  ) {
    throw new ServiceError(
      'bad-request',
      `the introduction (${layout.sampleRate} Hz) and the message (${message.sampleRate} Hz) are not both 16-bit mono of one rate`,
    );
  }
  const introData = intro.subarray(layout.dataOffset, layout.dataOffset + Math.min(layout.dataSize ?? intro.length, intro.length - layout.dataOffset));
  const data = introData.length + messageData;
  return {
    size: 44 + data,
    durationMs: durationOf(message, data),
    async *open() {
      yield wavHeader(data, message.sampleRate);
      yield introData;
      yield* stored(message.dataOffset, messageData);
    },
  };
}

const durationOf = (layout: WavLayout, dataBytes: number): number => Math.round((dataBytes / (2 * layout.channels) / layout.sampleRate) * 1000);

async function* chunksOf(blobs: BlobStore, key: string, from: number, length: number): AsyncIterable<Uint8Array> {
  for (let offset = from; offset < from + length;) {
    const part = await blobs.read(key, offset, Math.min(CHUNK, from + length - offset));
    if (!part || part.bytes.length === 0) throw new ServiceError('message-not-found', 'the message to forward vanished while it was copied');
    offset += part.bytes.length;
    yield part.bytes;
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of source) {
    size += part.length;
    if (size > INTRODUCTION_MAX_BYTES) throw new ServiceError('bad-request', 'the introduction is too long');
    parts.push(part);
  }
  return Buffer.concat(parts);
}
