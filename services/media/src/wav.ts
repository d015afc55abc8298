/** WAV files as the platform uses them: PCM, 16-bit, mono, 8 kHz unless said otherwise. */
import { scanWav, ServiceError, wavHeader, type WavLayout } from '@sipvm/contracts';

export const RATE = 8000;

export interface PcmWav {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** The PCM bytes of the data chunk. */
  data: Buffer;
}

/** The RIFF/WAVE scanner lives in the contracts, beside the header writer. */
export { scanWav, type WavLayout };

/** Reads the fmt and data chunks of a whole RIFF/WAVE file. */
export function parseWav(bytes: Buffer, what = 'WAV'): PcmWav {
  const layout = scanWav(bytes, what);
  if (!layout) throw new ServiceError('bad-request', `${what} has no data chunk`);
  const available = bytes.length - layout.dataOffset;
  const length = Math.min(layout.dataSize ?? available, available);
  return {
    sampleRate: layout.sampleRate,
    channels: layout.channels,
    bitsPerSample: layout.bitsPerSample,
    data: bytes.subarray(layout.dataOffset, layout.dataOffset + length - (length % 2)),
  };
}

export function isPlatformFormat(wav: Pick<PcmWav, 'sampleRate' | 'channels' | 'bitsPerSample'>): boolean {
  return wav.sampleRate === RATE && wav.channels === 1 && wav.bitsPerSample === 16;
}

/** The platform's WAV header (one writer, in the contracts). */
export { wavHeader };

export function encodeWav(pcm: Buffer, sampleRate = RATE): Buffer {
  return Buffer.concat([wavHeader(pcm.length, sampleRate), pcm]);
}

export function durationMs(pcmBytes: number, sampleRate = RATE): number {
  return Math.round((pcmBytes / 2 / sampleRate) * 1000);
}

/** A sine tone with 5 ms fades, as 16-bit PCM. */
export function tone(frequency: number, ms: number, amplitude = 0.4): Buffer {
  const n = Math.round((RATE * ms) / 1000);
  const fade = Math.round(RATE * 0.005);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const envelope = Math.min(1, i / fade, (n - 1 - i) / fade);
    pcm.writeInt16LE(Math.round(32767 * amplitude * envelope * Math.sin((2 * Math.PI * frequency * i) / RATE)), i * 2);
  }
  return pcm;
}

export function silence(ms: number): Buffer {
  return Buffer.alloc(Math.round((RATE * ms) / 1000) * 2);
}
