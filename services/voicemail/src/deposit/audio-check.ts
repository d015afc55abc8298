import { LoudestFrame } from '@sipvm/contracts';

/**
 * What a recording really contains, read from its WAV as it streams by: the true duration (from
 * the sample count, not from what the recorder believed) and the loudest 20 ms frame, so a
 * message of silence or line noise can be told from speech.
 */

export interface AudioCheck {
  durationMs: number;
  /** Level of the loudest 20 ms frame in dBFS (−Infinity for digital silence). */
  loudestFrameDbfs: number;
}

export class NotPcmWavError extends Error {
  override readonly name = 'NotPcmWavError';
}

/** Reads a 16-bit PCM WAV stream (any rate, mono or interleaved channels). */
export async function checkWav(chunks: AsyncIterable<Uint8Array>): Promise<AudioCheck> {
  let buffered = Buffer.alloc(0);
  let format: { channels: number; rate: number } | undefined;
  let dataLeft = -1;
  let samples = 0;
  let loudness: LoudestFrame | undefined;

  for await (const chunk of chunks) {
    buffered = buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([buffered, chunk]);
    if (dataLeft < 0) {
      // Header: walk the RIFF chunks until "data".
      if (buffered.length < 12) continue;
      if (buffered.toString('latin1', 0, 4) !== 'RIFF' || buffered.toString('latin1', 8, 12) !== 'WAVE') throw new NotPcmWavError('not a RIFF/WAVE file');
      let offset = 12;
      while (dataLeft < 0 && offset + 8 <= buffered.length) {
        const id = buffered.toString('latin1', offset, offset + 4);
        const size = buffered.readUInt32LE(offset + 4);
        if (id === 'data') {
          if (!format) throw new NotPcmWavError('data before fmt');
          dataLeft = size;
          buffered = buffered.subarray(offset + 8);
          break;
        }
        if (offset + 8 + size > buffered.length) break; // need more bytes
        if (id === 'fmt ') {
          const audioFormat = buffered.readUInt16LE(offset + 8);
          const channels = buffered.readUInt16LE(offset + 10);
          const rate = buffered.readUInt32LE(offset + 12);
          const bits = buffered.readUInt16LE(offset + 22);
          if ((audioFormat !== 1 && audioFormat !== 0xfffe) || bits !== 16 || channels < 1 || rate < 1) {
            throw new NotPcmWavError(`unsupported WAV format ${audioFormat}, ${bits} bits, ${channels} channels`);
          }
          format = { channels, rate };
          loudness = new LoudestFrame(rate * channels);
        }
        offset += 8 + size + (size % 2);
      }
      if (dataLeft < 0) continue;
    }
    const usable = Math.min(buffered.length - (buffered.length % 2), dataLeft);
    for (let i = 0; i < usable; i += 2) loudness?.add(buffered.readInt16LE(i));
    samples += usable / 2;
    dataLeft -= usable;
    buffered = buffered.subarray(usable);
  }
  if (!format || !loudness) throw new NotPcmWavError('no fmt chunk');
  return { durationMs: Math.round((samples / format.channels / format.rate) * 1000), loudestFrameDbfs: loudness.dbfs };
}
