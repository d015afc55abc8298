/**
 * An uploaded greeting is checked before it goes anywhere: a RIFF/WAVE file of 16-bit PCM, mono,
 * 8 kHz (the platform's format, which media plays without converting), at least a fraction of a
 * second and at most WEB_GREETING_MAX_MS long. What is stored is the canonical 44-byte header and
 * the samples: other chunks (metadata a recorder may have added) are dropped.
 */
import { scanWav, toServiceError, wavHeader } from '@sipvm/contracts';
import { HttpError } from './http/problem.js';

const BYTES_PER_SECOND = 16_000;
const MIN_MS = 200;

/** The most bytes an upload of `maxMs` may have: the samples, a header and room for metadata chunks. */
export function uploadLimit(maxMs: number): number {
  return Math.ceil((maxMs / 1000) * BYTES_PER_SECOND) + 64 * 1024;
}

export function checkGreetingWav(bytes: Buffer, maxMs: number): Buffer {
  let layout;
  try {
    layout = scanWav(bytes, 'the greeting');
  } catch (error) {
    throw new HttpError(400, toServiceError(error).message);
  }
  if (!layout) throw new HttpError(400, 'the greeting is not a complete WAV file (no data chunk)');
  if (layout.bitsPerSample !== 16 || layout.channels !== 1 || layout.sampleRate !== 8000) {
    throw new HttpError(
      400,
      `the greeting must be 16-bit PCM, mono, 8000 Hz; it is ${layout.bitsPerSample}-bit, ${layout.channels} channel(s), ${layout.sampleRate} Hz`,
    );
  }
  const available = bytes.length - layout.dataOffset;
  const dataSize = layout.dataSize ?? available;
  if (dataSize > available) throw new HttpError(400, `the greeting is cut short: its header announces ${dataSize} bytes of samples, it has ${available}`);
  const samples = dataSize - (dataSize % 2);
  const ms = (samples / BYTES_PER_SECOND) * 1000;
  if (ms < MIN_MS) throw new HttpError(400, `the greeting is too short (${Math.round(ms)} ms; at least ${MIN_MS} ms)`);
  if (ms > maxMs) throw new HttpError(400, `the greeting is too long (${(ms / 1000).toFixed(1)} s; at most ${maxMs / 1000} s)`);
  return Buffer.concat([wavHeader(samples), bytes.subarray(layout.dataOffset, layout.dataOffset + samples)]);
}
