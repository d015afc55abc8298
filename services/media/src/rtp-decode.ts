/**
 * A recording's pcaps (the caller's RTP as sent) into 8 kHz mono 16-bit PCM, as streams: the
 * packets are read file by file in pieces and decoded as they come, so an hour of audio needs no
 * more memory than a second. G.711 is decoded here, each packet placed by its RTP timestamp (gaps
 * — DTMF, lost packets — silent); G.722 and Opus by ffmpeg (a raw G.722 stream; Opus in Ogg).
 */
import { open } from 'node:fs/promises';
import { ServiceError } from '@sipvm/contracts';
import { ALAW, decodeG711, ULAW } from './g711.js';
import { decodeStreamToFile } from './ffmpeg.js';
import { oggOpusPages } from './ogg.js';
import { PcapReader, type RtpPacket } from './pcap.js';
import type { RecordableCodec } from './sdp.js';

/** Bytes read from a pcap per system call. */
const READ_SIZE = 64 * 1024;
/** Longest jump of the RTP timestamp taken as a real gap; a larger one is a new stream. */
const MAX_GAP_SAMPLES = 8000 * 10;
/**
 * How far back a packet may still land (2 s): audio older than this behind the newest packet is
 * final and handed on. rtpengine writes packets as they arrive, reordered by the network at most.
 */
const WINDOW_SAMPLES = 8000 * 2;
/** Packets held to put Opus and G.722 back in sequence order before ffmpeg reads them. */
const REORDER_DEPTH = 16;

/** The audio packets of `payloadType` in the pcaps, in the order rtpengine wrote them. */
export async function* recordedPackets(paths: readonly string[], payloadType: number): AsyncGenerator<RtpPacket> {
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  for (const path of paths) {
    const file = await open(path, 'r');
    try {
      const reader = new PcapReader();
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, READ_SIZE, null);
        if (bytesRead === 0) break;
        for (const { packet } of reader.read(buffer.subarray(0, bytesRead))) {
          // The reader's packets point into `buffer`, which the next read overwrites: copied.
          if (packet.payloadType === payloadType && packet.payload.length > 0) yield { ...packet, payload: Buffer.from(packet.payload) };
        }
      }
    } finally {
      await file.close();
    }
  }
}

/**
 * Where each G.711 packet's samples go: by RTP timestamp from the start of its SSRC; a new SSRC,
 * or a wild jump, continues where the audio ended. Placing only (no decoding) tells a recording's
 * length cheaply. (A packet more than the window behind the newest is placed, but left out by
 * `g711Pcm`: its samples have been handed on.)
 */
export class TimestampPlacer {
  #end = 0;
  #ssrc: number | undefined;
  #base = 0;
  #firstTs = 0;

  /** Samples placed so far: the audio's length. */
  get end(): number {
    return this.#end;
  }

  place(packet: RtpPacket): number {
    if (packet.ssrc !== this.#ssrc) this.#restart(packet);
    let at = this.#base + ((packet.timestamp - this.#firstTs) >>> 0);
    if (at > this.#end + MAX_GAP_SAMPLES) {
      this.#restart(packet);
      at = this.#end;
    }
    this.#end = Math.max(this.#end, at + packet.payload.length);
    return at;
  }

  #restart(packet: RtpPacket): void {
    this.#ssrc = packet.ssrc;
    this.#base = this.#end;
    this.#firstTs = packet.timestamp;
  }
}

/** G.711 packets into PCM chunks, in order: samples leave once no packet can land on them any more. */
export async function* g711Pcm(codec: 'PCMU' | 'PCMA', packets: AsyncIterable<RtpPacket>): AsyncGenerator<Int16Array> {
  const table = codec === 'PCMU' ? ULAW : ALAW;
  const placer = new TimestampPlacer();
  let window = new Int16Array(WINDOW_SAMPLES * 2);
  /** The sample index of window[0]: everything before it has left. */
  let start = 0;
  for await (const packet of packets) {
    const at = placer.place(packet);
    const final = placer.end - WINDOW_SAMPLES;
    if (final > start) {
      // Everything before `final` is settled: hand it on and slide the window.
      const settled = Math.min(final - start, window.length);
      yield window.slice(0, settled);
      start += settled;
      if (start < final) {
        // A gap longer than the window: silence, then the window restarts at `final`.
        for (let left = final - start; left > 0; left -= WINDOW_SAMPLES) yield new Int16Array(Math.min(left, WINDOW_SAMPLES));
        start = final;
        window = new Int16Array(window.length);
      } else {
        window.copyWithin(0, settled);
        window.fill(0, window.length - settled);
      }
    }
    if (at >= start) decodeG711(table, packet.payload, window, at - start);
  }
  if (placer.end > start) yield window.slice(0, placer.end - start);
}

/** G.722 or Opus packets decoded by ffmpeg into a file of PCM. */
export async function decodeToPcmFile(codec: 'G722' | 'opus', packets: AsyncIterable<RtpPacket>, file: string): Promise<void> {
  const ordered = inSequence(packets);
  if (codec === 'G722') await decodeStreamToFile('g722', payloads(ordered), file);
  else await decodeStreamToFile('ogg', oggOpusPages(ordered), file);
}

export function isG711(codec: RecordableCodec): codec is 'PCMU' | 'PCMA' {
  return codec === 'PCMU' || codec === 'PCMA';
}

export function assertDecodable(codec: string): asserts codec is RecordableCodec {
  if (!['PCMU', 'PCMA', 'G722', 'opus'].includes(codec)) throw new ServiceError('internal', `cannot decode ${codec}`);
}

async function* payloads(packets: AsyncIterable<RtpPacket>): AsyncGenerator<Uint8Array> {
  for await (const packet of packets) yield packet.payload;
}

/**
 * Packets back in sequence order within each SSRC run (reordering on the way), duplicates left
 * out, holding at most REORDER_DEPTH of them.
 */
async function* inSequence(packets: AsyncIterable<RtpPacket>): AsyncGenerator<RtpPacket> {
  let held: RtpPacket[] = [];
  let ssrc: number | undefined;
  let lastOut: number | undefined;
  const release = function* (count: number) {
    // Sequence numbers wrap: order them by distance from the last one out (or from before the first held).
    const from = lastOut ?? (held[0]!.sequence - REORDER_DEPTH - 1 + 0x10000) % 0x10000;
    const key = (sequence: number) => (sequence - from + 0x10000) % 0x10000;
    held.sort((a, b) => key(a.sequence) - key(b.sequence));
    for (const packet of held.splice(0, count)) {
      if (lastOut !== undefined && packet.sequence === lastOut) continue;
      lastOut = packet.sequence;
      yield packet;
    }
  };
  for await (const packet of packets) {
    if (packet.ssrc !== ssrc) {
      if (held.length > 0) yield* release(held.length);
      ssrc = packet.ssrc;
      lastOut = undefined;
      held = [];
    }
    held.push(packet);
    if (held.length > REORDER_DEPTH) yield* release(1);
  }
  if (held.length > 0) yield* release(held.length);
}
