/** A minimal Ogg Opus writer (RFC 7845), so that ffmpeg can decode Opus packets taken from RTP. */

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, i) => {
  let r = i << 24;
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

function crc32(data: Buffer): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc >>> 0;
}

function page(body: Buffer, flags: number, granule: bigint, serial: number, sequence: number): Buffer {
  const segments: number[] = [];
  let left = body.length;
  while (left >= 255) {
    segments.push(255);
    left -= 255;
  }
  segments.push(left);
  const header = Buffer.alloc(27 + segments.length);
  header.write('OggS', 0);
  header[5] = flags;
  header.writeBigInt64LE(granule, 6);
  header.writeUInt32LE(serial, 14);
  header.writeUInt32LE(sequence, 18);
  header[26] = segments.length;
  Buffer.from(segments).copy(header, 27);
  const whole = Buffer.concat([header, body]);
  whole.writeUInt32LE(crc32(whole), 22);
  return whole;
}

/**
 * Opus packets with their RTP timestamps (48 kHz clock) as the pages of one Ogg Opus stream, page
 * by page: one packet is held back so that the last page can say it is the last.
 */
export async function* oggOpusPages(packets: AsyncIterable<{ payload: Buffer; timestamp: number }>, channels = 1): AsyncGenerator<Buffer> {
  const serial = 0x5349_5056;
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0);
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(0, 10);
  head.writeUInt32LE(48000, 12);
  const vendor = Buffer.from('sipvm');
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
  tags.write('OpusTags', 0);
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  yield page(head, 0x02, 0n, serial, 0);
  yield page(tags, 0, 0n, serial, 1);
  let first: number | undefined;
  let sequence = 2;
  let held: { payload: Buffer; timestamp: number } | undefined;
  const pageOf = (p: { payload: Buffer; timestamp: number }, last: boolean) => {
    const elapsed = (p.timestamp - (first ?? p.timestamp)) >>> 0;
    return page(p.payload, last ? 0x04 : 0, BigInt(elapsed + 960), serial, sequence++);
  };
  for await (const packet of packets) {
    first ??= packet.timestamp;
    if (held) yield pageOf(held, false);
    held = packet;
  }
  if (held) yield pageOf(held, true);
}
