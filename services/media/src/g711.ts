/** G.711 µ-law and A-law to 16-bit linear PCM (ITU-T G.711), as lookup tables. */

function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  magnitude = Math.min(magnitude, 32767);
  return sign ? magnitude : -magnitude;
}

export const ULAW = Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i));
export const ALAW = Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i));

/** Decodes G.711 bytes into `out` (samples) starting at sample `at`. */
export function decodeG711(table: Int16Array, payload: Uint8Array, out: Int16Array, at: number): void {
  const n = Math.min(payload.length, out.length - at);
  for (let i = 0; i < n; i++) out[at + i] = table[payload[i]!]!;
}

/**
 * The encoder of a law, read off its decoder: G.711 quantises a sample to the nearest of the 256
 * levels the decoder knows, so the table maps every 16-bit sample to the code of its nearest level
 * (built the first time it is asked for, 64 KiB).
 */
function encoderOf(decoder: Int16Array): Uint8Array {
  const codes = Array.from({ length: 256 }, (_, code) => code).sort((a, b) => decoder[a]! - decoder[b]!);
  const table = new Uint8Array(65536);
  let nearest = 0;
  for (let sample = -32768; sample <= 32767; sample++) {
    while (nearest < 255 && Math.abs(decoder[codes[nearest + 1]!]! - sample) <= Math.abs(decoder[codes[nearest]!]! - sample)) nearest++;
    table[sample & 0xffff] = codes[nearest]!;
  }
  return table;
}

const encoders = new Map<Int16Array, Uint8Array>();

/** Encodes little-endian 16-bit PCM (an even number of bytes) with the law `table` decodes (ULAW or ALAW). */
export function encodeG711(table: Int16Array, pcm: Uint8Array): Uint8Array {
  let encoder = encoders.get(table);
  if (!encoder) encoders.set(table, (encoder = encoderOf(table)));
  const out = new Uint8Array(pcm.length >> 1);
  for (let i = 0, j = 0; j < out.length; i += 2, j++) out[j] = encoder[pcm[i]! | (pcm[i + 1]! << 8)]!;
  return out;
}
