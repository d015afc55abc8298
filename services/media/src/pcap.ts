/**
 * RTP out of rtpengine's pcap recordings (`recording-method = pcap`): libpcap files with raw IP
 * (`recording-format = raw`, link type 101) or Ethernet (`eth`, link type 1) frames of UDP.
 */
import { ServiceError } from '@sipvm/contracts';

export interface RtpPacket {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
  payload: Buffer;
}

export function* rtpPacketsOfPcap(file: Buffer): Generator<RtpPacket> {
  for (const { packet } of new PcapReader().read(file)) yield packet;
}

/** An RTP packet and when rtpengine wrote it (its pcap record time, ms since the epoch). */
export interface CapturedPacket {
  packet: RtpPacket;
  atMs: number;
}

/**
 * Reads a pcap in pieces as it grows (a recording still being written): each `read` takes the
 * next bytes of the file and returns the packets completed by them; a record cut in two waits for
 * the rest. A whole file in one piece works the same (a record cut short by a crash is ignored).
 */
export class PcapReader {
  #pending: Buffer = Buffer.alloc(0);
  #format: PcapFormat | undefined;

  *read(bytes: Buffer): Generator<CapturedPacket> {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, bytes]) : bytes;
    if (!this.#format) {
      if (data.length < 24) {
        this.#pending = Buffer.from(data);
        return;
      }
      this.#format = formatOf(data);
      data = data.subarray(24);
    }
    const { little, linkHeader, fractionsPerMs } = this.#format;
    const u32 = (at: number) => (little ? data.readUInt32LE(at) : data.readUInt32BE(at));
    let offset = 0;
    while (offset + 16 <= data.length) {
      const captured = u32(offset + 8);
      const start = offset + 16;
      if (start + captured > data.length) break;
      const atMs = u32(offset) * 1000 + Math.floor(u32(offset + 4) / fractionsPerMs);
      offset = start + captured;
      const packet = rtpOfFrame(data.subarray(start + linkHeader, start + captured));
      if (packet) yield { packet, atMs };
    }
    // Copied: the caller may reuse its read buffer.
    this.#pending = Buffer.from(data.subarray(offset));
  }
}

interface PcapFormat {
  little: boolean;
  linkHeader: number;
  /** Record times are in µs, or in ns in the nanosecond variant. */
  fractionsPerMs: number;
}

function formatOf(file: Buffer): PcapFormat {
  const magic = file.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const big = file.readUInt32BE(0);
  if (!little && big !== 0xa1b2c3d4 && big !== 0xa1b23c4d) throw new ServiceError('internal', 'recording is not a pcap file');
  const nano = (little ? magic : big) === 0xa1b23c4d;
  const linkType = little ? file.readUInt32LE(20) : file.readUInt32BE(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 101 || linkType === 228 ? 0 : -1;
  if (linkHeader < 0) throw new ServiceError('internal', `pcap link type ${linkType} is not supported`);
  return { little, linkHeader, fractionsPerMs: nano ? 1_000_000 : 1_000 };
}

function rtpOfFrame(ip: Buffer): RtpPacket | undefined {
  if (ip.length < 1) return undefined;
  const version = ip[0]! >> 4;
  let udp: number;
  if (version === 4) {
    if (ip[9] !== 17) return undefined;
    udp = (ip[0]! & 0x0f) * 4;
  } else if (version === 6) {
    if (ip[6] !== 17) return undefined;
    udp = 40;
  } else return undefined;
  return parseRtp(ip.subarray(udp + 8));
}

export function parseRtp(rtp: Buffer): RtpPacket | undefined {
  if (rtp.length < 12 || rtp[0]! >> 6 !== 2) return undefined;
  const csrc = rtp[0]! & 0x0f;
  let header = 12 + csrc * 4;
  if (rtp[0]! & 0x10) {
    if (rtp.length < header + 4) return undefined;
    header += 4 + rtp.readUInt16BE(header + 2) * 4;
  }
  let end = rtp.length;
  if (rtp[0]! & 0x20) end -= rtp[rtp.length - 1]!;
  if (end < header) return undefined;
  return {
    payloadType: rtp[1]! & 0x7f,
    marker: (rtp[1]! & 0x80) !== 0,
    sequence: rtp.readUInt16BE(2),
    timestamp: rtp.readUInt32BE(4),
    ssrc: rtp.readUInt32BE(8),
    payload: rtp.subarray(header, end),
  };
}
