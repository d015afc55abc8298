/**
 * The format of the files rtpengine plays, chosen by the call's codec. rtpengine (10.5) opens each
 * play file with libavformat, which reads 16-bit PCM in a WAV file through every codec probe it has
 * (compressed audio disguised as PCM): measured here, 1.9 ms of rtpengine's CPU for a 2.75 s
 * greeting, on the thread that forwards every call's packets, and more the longer the file.
 * G.711 in WAV, or 16-bit PCM in CAF, opens in under 0.1 ms. So a PCMU or PCMA call hears files in
 * its own codec (what rtpengine sends it anyway, so nothing is lost), any other codec lossless
 * 16-bit PCM in CAF (Apple's Core Audio Format, which libavformat reads without probing).
 */
import { ALAW, encodeG711, ULAW } from './g711.js';
import { RATE } from './wav.js';

export type PlayFormat = 'ulaw' | 'alaw' | 'pcm';

export function playFormatOf(codec: string): PlayFormat {
  const name = codec.toUpperCase();
  return name === 'PCMU' ? 'ulaw' : name === 'PCMA' ? 'alaw' : 'pcm';
}

export function playFileExtension(format: PlayFormat): string {
  return format === 'pcm' ? 'caf' : 'wav';
}

/** Bytes before the audio; the header itself is written once the length is known. */
export function playHeaderBytes(format: PlayFormat): number {
  return format === 'pcm' ? CAF_HEADER_BYTES : WAV_HEADER_BYTES;
}

export function playDurationMs(format: PlayFormat, audioBytes: number): number {
  return Math.round((audioBytes / (format === 'pcm' ? 2 : 1) / RATE) * 1000);
}

export function playHeader(format: PlayFormat, audioBytes: number): Buffer {
  return format === 'pcm' ? cafHeader(audioBytes) : g711WavHeader(format === 'ulaw' ? 7 : 6, audioBytes);
}

/**
 * Turns 16-bit little-endian PCM, in chunks of any length, into the format's audio bytes. A chunk
 * may end inside a sample: its first byte waits for the next chunk.
 */
export function pcmEncoder(format: PlayFormat): (pcm: Uint8Array) => Uint8Array {
  if (format === 'pcm') return (pcm) => pcm;
  const law = format === 'ulaw' ? ULAW : ALAW;
  let carry: number | undefined;
  return (pcm) => {
    let bytes = pcm;
    if (carry !== undefined) {
      bytes = new Uint8Array(pcm.length + 1);
      bytes[0] = carry;
      bytes.set(pcm, 1);
      carry = undefined;
    }
    if (bytes.length % 2 === 1) {
      carry = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    return encodeG711(law, bytes);
  };
}

const WAV_HEADER_BYTES = 44;

/** RIFF/WAVE with one 8-bit G.711 channel at 8 kHz (format 7 µ-law, 6 A-law). */
function g711WavHeader(formatTag: 6 | 7, audioBytes: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + audioBytes, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(formatTag, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(RATE, 24);
  h.writeUInt32LE(RATE, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.write('data', 36);
  h.writeUInt32LE(audioBytes, 40);
  return h;
}

const CAF_HEADER_BYTES = 68;

/** CAF: the file header, a `desc` chunk (8 kHz mono 16-bit little-endian integer PCM) and the `data` chunk's head. */
function cafHeader(audioBytes: number): Buffer {
  const h = Buffer.alloc(CAF_HEADER_BYTES);
  h.write('caff', 0);
  h.writeUInt16BE(1, 4); // version
  h.writeUInt16BE(0, 6); // flags
  h.write('desc', 8);
  h.writeBigInt64BE(32n, 12);
  h.writeDoubleBE(RATE, 20);
  h.write('lpcm', 28);
  h.writeUInt32BE(2, 32); // kCAFLinearPCMFormatFlagIsLittleEndian
  h.writeUInt32BE(2, 36); // bytes per packet
  h.writeUInt32BE(1, 40); // frames per packet
  h.writeUInt32BE(1, 44); // channels
  h.writeUInt32BE(16, 48); // bits per channel
  h.write('data', 52);
  h.writeBigInt64BE(BigInt(4 + audioBytes), 56);
  h.writeUInt32BE(0, 64); // edit count
  return h;
}
