/**
 * Audio fixtures for tests: WAV files of 8 kHz mono 16-bit PCM with deterministic content, small
 * ones in memory and long ones produced chunk by chunk (never whole in memory) with their hash.
 */
import { createHash } from 'node:crypto';
import { wavHeader } from '@sipvm/contracts';
import { tonePcm } from './rtp/endpoint.js';

export { wavHeader };

/** `seconds` of a deterministic signal (a tone shifted by `salt`). */
export function smallWav(seconds = 1, salt = 0): Uint8Array {
  const samples = Math.round(8000 * seconds);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin((i + salt) / 3)), i * 2);
  return Buffer.concat([wavHeader(data.length), data]);
}

/** A WAV of a pure tone: a message or greeting whose playback a test can recognise at the phone. */
export function toneWav(frequency: number, ms: number, amplitude = 0.5): Buffer {
  const pcm = tonePcm(frequency, ms, amplitude);
  return Buffer.concat([wavHeader(pcm.length * 2), Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)]);
}

/** A long WAV produced chunk by chunk (never whole in memory), with its SHA-256 and size. */
export function longWav(seconds: number): { chunks: AsyncIterable<Uint8Array>; size: number; sha256: Promise<string> } {
  const dataBytes = 8000 * 2 * seconds;
  const hash = createHash('sha256');
  let resolve!: (digest: string) => void;
  const sha256 = new Promise<string>((r) => (resolve = r));
  async function* chunks() {
    const header = wavHeader(dataBytes);
    hash.update(header);
    yield header;
    const chunk = Buffer.alloc(64 * 1024);
    let sample = 0;
    for (let written = 0; written < dataBytes; written += chunk.length) {
      const n = Math.min(chunk.length, dataBytes - written);
      for (let i = 0; i < n; i += 2) chunk.writeInt16LE(((sample++ * 7919) % 65536) - 32768, i);
      const part = Buffer.from(chunk.subarray(0, n));
      hash.update(part);
      yield part;
    }
    resolve(hash.digest('hex'));
  }
  return { chunks: chunks(), size: 44 + dataBytes, sha256 };
}
