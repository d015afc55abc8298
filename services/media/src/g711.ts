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
