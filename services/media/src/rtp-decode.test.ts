import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearToAlaw, linearToUlaw, tonePcm } from '@sipvm/harness';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapReader, rtpPacketsOfPcap, type RtpPacket } from './pcap.js';
import { g711Pcm, recordedPackets, TimestampPlacer } from './rtp-decode.js';
import { ULAW } from './g711.js';

/** The PCM of a pcap as the recorder decodes it: from a file, packet by packet, joined. */
async function decodedFile(codec: 'PCMU' | 'PCMA', payloadType: number, pcap: Buffer): Promise<Int16Array> {
  const dir = await mkdtemp(join(tmpdir(), 'rtp-decode-'));
  try {
    await writeFile(join(dir, 'a.pcap'), pcap);
    const chunks: Int16Array[] = [];
    for await (const chunk of g711Pcm(codec, recordedPackets([join(dir, 'a.pcap')], payloadType))) chunks.push(chunk);
    const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A pcap (raw IP link type, as rtpengine writes with recording-format = raw) of RTP packets. */
function pcapOf(packets: { pt: number; seq: number; ts: number; ssrc?: number; payload: Buffer }[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(101, 20);
  const records = packets.map((p) => {
    const rtp = Buffer.concat([Buffer.alloc(12), p.payload]);
    rtp[0] = 0x80;
    rtp[1] = p.pt;
    rtp.writeUInt16BE(p.seq, 2);
    rtp.writeUInt32BE(p.ts >>> 0, 4);
    rtp.writeUInt32BE(p.ssrc ?? 7, 8);
    const ip = Buffer.alloc(28);
    ip[0] = 0x45;
    ip[9] = 17;
    const frame = Buffer.concat([ip, rtp]);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    return Buffer.concat([record, frame]);
  });
  return Buffer.concat([header, ...records]);
}

const frames = (bytes: number[]) => Array.from({ length: bytes.length / 160 }, (_, i) => Buffer.from(bytes.slice(i * 160, i * 160 + 160)));

test('G.711 from a pcap: decoded by timestamp, DTMF packets left out, gaps silent, wrap-around handled', async () => {
  const tone = tonePcm(1000, 200);
  for (const [codec, encode, pt] of [
    ['PCMU', linearToUlaw, 0],
    ['PCMA', linearToAlaw, 8],
  ] as const) {
    const payloads = frames(Array.from(tone, encode));
    const start = 0xffffff00; // the timestamp wraps inside the stream
    const packets: { pt: number; seq: number; ts: number; payload: Buffer }[] = payloads.map((payload, i) => ({
      pt: pt as number,
      seq: (65530 + i) & 0xffff,
      ts: start + i * 160 + (i >= 5 ? 800 : 0),
      payload,
    }));
    packets.splice(5, 0, { pt: 101, seq: 1, ts: start + 800, payload: Buffer.from([5, 0x8a, 0, 160]) });
    const parsed: RtpPacket[] = [...rtpPacketsOfPcap(pcapOf(packets))];
    assert.equal(parsed.length, 11);
    const samples = await decodedFile(codec, pt, pcapOf(packets));
    assert.equal(samples.length, 1600 + 800, `${codec}: 200 ms of tone and 100 ms of gap`);
    const gap = samples.subarray(800, 1600);
    assert.ok(
      gap.every((s) => s === 0),
      `${codec}: the gap is silent`,
    );
    const error = Math.max(...Array.from(samples.subarray(0, 800), (s, i) => Math.abs(s - tone[i]!)));
    assert.ok(error < 1100, `${codec}: decoded within G.711's quantisation (${error})`);
  }
});

test('G.711 streamed: packets reordered within the window land where they belong; a long gap is silence; the length is known without decoding', async () => {
  const level = (i: number) => linearToUlaw(((i % 50) - 25) * 1000);
  // 10 s of 20 ms packets, then a gap of 5 s (longer than the 2 s the decoder holds), then 1 s more.
  const packets = Array.from({ length: 550 }, (_, i) => ({ pt: 0, seq: i, ts: i < 500 ? i * 160 : i * 160 + 40_000, payload: Buffer.alloc(160, level(i)) }));
  // Swap neighbours every 37 packets: the network reordered them.
  for (let i = 10; i + 1 < packets.length; i += 37) [packets[i], packets[i + 1]] = [packets[i + 1]!, packets[i]!];
  const samples = await decodedFile('PCMU', 0, pcapOf(packets));
  assert.equal(samples.length, 550 * 160 + 40_000);
  const placer = new TimestampPlacer();
  for (const packet of rtpPacketsOfPcap(pcapOf(packets))) placer.place(packet);
  assert.equal(placer.end, samples.length, 'the length from placing alone');
  for (let i = 0; i < 550; i++) {
    const at = i < 500 ? i * 160 : i * 160 + 40_000;
    assert.equal(samples[at + 80], ULAW[level(i)], `packet ${i} in its place`);
  }
  assert.ok(
    samples.subarray(500 * 160, 500 * 160 + 40_000).every((s) => s === 0),
    'the gap is silent',
  );
});

test('a pcap cut short by a crash yields the packets before the cut', () => {
  const file = pcapOf([
    { pt: 0, seq: 1, ts: 0, payload: Buffer.alloc(160, 0xff) },
    { pt: 0, seq: 2, ts: 160, payload: Buffer.alloc(160, 0xff) },
  ]);
  assert.equal([...rtpPacketsOfPcap(file.subarray(0, file.length - 10))].length, 1);
});

test('a pcap read in pieces as it grows yields the same packets, each with its record time', () => {
  const packets = Array.from({ length: 30 }, (_, i) => ({ pt: 0, seq: i, ts: i * 160, payload: Buffer.alloc(160, i) }));
  const file = pcapOf(packets);
  for (let i = 0; i < 30; i++) {
    file.writeUInt32LE(1_800_000_000, 24 + i * 216); // record time: seconds…
    file.writeUInt32LE(i * 20_000, 28 + i * 216); // …and microseconds, 20 ms apart
  }
  const reader = new PcapReader();
  const seen: { seq: number; atMs: number; first: number }[] = [];
  // Pieces of awkward sizes: inside the file header, inside record headers, inside payloads.
  for (let offset = 0, size = 7; offset < file.length; offset += size, size = ((size * 3) % 509) + 1) {
    for (const { packet, atMs } of reader.read(file.subarray(offset, offset + size))) seen.push({ seq: packet.sequence, atMs, first: packet.payload[0]! });
  }
  assert.deepEqual(
    seen.map((p) => p.seq),
    packets.map((p) => p.seq),
  );
  assert.deepEqual(
    seen.map((p) => p.first),
    packets.map((_, i) => i),
    'payloads survive the reader reusing nothing of the pieces',
  );
  assert.deepEqual(seen.map((p) => p.atMs).slice(0, 3), [1_800_000_000_000, 1_800_000_000_020, 1_800_000_000_040]);
});
