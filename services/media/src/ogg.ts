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

/** Opus packets with their RTP timestamps (48 kHz clock) into one Ogg Opus file. */
export function oggOpus(packets: { payload: Buffer; timestamp: number }[], channels = 1): Buffer {
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
  const pages = [page(head, 0x02, 0n, serial, 0), page(tags, 0, 0n, serial, 1)];
  const first = packets[0]?.timestamp ?? 0;
  packets.forEach((p, i) => {
    const elapsed = (p.timestamp - first) >>> 0;
    const last = i === packets.length - 1;
    pages.push(page(p.payload, last ? 0x04 : 0, BigInt(elapsed + 960), serial, i + 2));
  });
  return Buffer.concat(pages);
}
