/**
 * A recorded pcap (the caller's RTP as sent) into 8 kHz mono 16-bit PCM.
 * G.711 is decoded here, with gaps (DTMF, lost packets) filled with silence by RTP timestamp;
 * G.722 and Opus are decoded by ffmpeg (raw G.722 stream; Opus wrapped in Ogg first).
 */
import { ServiceError } from '@sipvm/contracts';
import { ALAW, decodeG711, ULAW } from './g711.js';
import { decodeToPcm } from './ffmpeg.js';
import { oggOpus } from './ogg.js';
import type { RtpPacket } from './pcap.js';
import type { RecordableCodec } from './sdp.js';

/** Longest jump of the RTP timestamp taken as a real gap; a larger one is a new stream. */
const MAX_GAP_SAMPLES = 8000 * 10;

export async function pcmOfRtp(codec: RecordableCodec, payloadType: number, packets: Iterable<RtpPacket>): Promise<Buffer> {
  const audio = [...packets].filter((p) => p.payloadType === payloadType && p.payload.length > 0);
  if (audio.length === 0) return Buffer.alloc(0);
  switch (codec) {
    case 'PCMU':
      return g711(ULAW, audio);
    case 'PCMA':
      return g711(ALAW, audio);
    case 'G722':
      return decodeToPcm('g722', Buffer.concat(inOrder(audio).map((p) => p.payload)));
    case 'opus':
      return decodeToPcm('ogg', oggOpus(inOrder(audio)));
    default:
      throw new ServiceError('internal', `cannot decode ${String(codec)}`);
  }
}

/** Packets sorted by sequence number within each SSRC run (reordering on the way). */
function inOrder(packets: RtpPacket[]): RtpPacket[] {
  const runs: RtpPacket[][] = [];
  for (const p of packets) {
    const run = runs.at(-1);
    if (run && run[0]!.ssrc === p.ssrc) run.push(p);
    else runs.push([p]);
  }
  return runs.flatMap((run) => {
    const base = run[0]!.sequence;
    const seen = new Set<number>();
    return run
      .map((p) => ({ p, key: (p.sequence - base + 0x10000 + 0x8000) % 0x10000 }))
      .filter(({ key }) => (seen.has(key) ? false : (seen.add(key), true)))
      .sort((a, b) => a.key - b.key)
      .map(({ p }) => p);
  });
}

function g711(table: Int16Array, packets: RtpPacket[]): Buffer {
  // Place each packet at its timestamp; a new SSRC (or a wild jump) continues where audio ended.
  const placed: { at: number; payload: Buffer }[] = [];
  let end = 0;
  let ssrc: number | undefined;
  let base = 0;
  let firstTs = 0;
  for (const p of packets) {
    if (p.ssrc !== ssrc) {
      ssrc = p.ssrc;
      base = end;
      firstTs = p.timestamp;
    }
    let at = base + ((p.timestamp - firstTs) >>> 0);
    if (at > end + MAX_GAP_SAMPLES || at + MAX_GAP_SAMPLES < base) {
      base = end;
      firstTs = p.timestamp;
      at = end;
    }
    placed.push({ at, payload: p.payload });
    end = Math.max(end, at + p.payload.length);
  }
  // Samples in the machine's order: little-endian on every platform Node runs on, as WAV wants.
  const out = new Int16Array(end);
  for (const { at, payload } of placed) decodeG711(table, payload, out, at);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
