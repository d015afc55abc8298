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
  if (file.length < 24) return;
  const magic = file.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) {
    throw new ServiceError('internal', 'recording is not a pcap file');
  }
  const u32 = (at: number) => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linkType = u32(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 101 || linkType === 228 ? 0 : -1;
  if (linkHeader < 0) throw new ServiceError('internal', `pcap link type ${linkType} is not supported`);
  let offset = 24;
  while (offset + 16 <= file.length) {
    const captured = u32(offset + 8);
    const start = offset + 16;
    offset = start + captured;
    if (offset > file.length) break; // a record cut short by a crash: ignore the tail
    const packet = rtpOfFrame(file.subarray(start + linkHeader, start + captured));
    if (packet) yield packet;
  }
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
