/** WAV files as the platform uses them: PCM, 16-bit, mono, 8 kHz unless said otherwise. */
import { ServiceError, wavHeader } from '@sipvm/contracts';

export const RATE = 8000;

export interface PcmWav {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** The PCM bytes of the data chunk. */
  data: Buffer;
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
 * undefined while `bytes` is too short to tell (more of the file is needed).
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
