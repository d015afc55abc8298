/**
 * A finished recording's audio, from rtpengine's pcaps to a staged WAV, in memory that does not
 * grow with its length (an hour costs what a second does): pcap → PCM → WAV → staging, each a
 * stream (rtp-decode.ts). The audio is gone through twice — first to learn its length and, when
 * silence ended it, where that silence began (the WAV header comes first and says the length),
 * then to stage it. For G.711 the first pass only places packets; G.722 and Opus are decoded once,
 * by ffmpeg, into a PCM file beside the pcaps that both passes read.
 */
import { open, stat } from 'node:fs/promises';
import { LoudestFrame, stageAudio, wavHeader, type StagedAudio, type StagingBucket } from '@sipvm/contracts';
import { decodeToPcmFile, g711Pcm, isG711, recordedPackets, TimestampPlacer } from './rtp-decode.js';
import type { RtpPacket } from './pcap.js';
import type { RecordableCodec } from './sdp.js';
import { TrailingSilence } from './silence.js';
import { removeFile } from './util.js';
import { RATE } from './wav.js';

export interface RecordingAudio {
  /** rtpengine's pcaps of the recording, oldest first (full paths). */
  pcaps: readonly string[];
  codec: RecordableCodec;
  payloadType: number;
  maxDurationMs: number;
  /** Silence ended the recording: its trailing silence (below this level) is left out. */
  trailingSilenceBelowDbfs?: number | undefined;
  /** Where a PCM file may be written while ffmpeg decodes (removed afterwards). */
  scratchFile: string;
}

export interface StagedRecording {
  audio: StagedAudio;
  durationMs: number;
  /** The loudest 20 ms, floored at the −120 dBFS the contract carries for silence. */
  loudestDbfs: number;
}

/** Bytes of PCM read from a decoded file per system call. */
const READ_SIZE = 64 * 1024;

export async function stageRecording(bucket: StagingBucket, name: string, recording: RecordingAudio): Promise<StagedRecording> {
  const source = isG711(recording.codec) ? await g711Source(recording) : await decodedSource(recording);
  try {
    const maxSamples = Math.floor((recording.maxDurationMs / 1000) * RATE);
    const samples = Math.min(await lengthOf(source, recording.trailingSilenceBelowDbfs), maxSamples);
    const meter = new LoudestFrame(RATE);
    const audio = await stageAudio(
      bucket,
      name,
      (async function* () {
        yield wavHeader(samples * 2);
        let left = samples;
        for await (const chunk of source.pcm()) {
          const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
          left -= part.length;
          meter.addAll(part);
          yield new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
          if (left === 0) break;
        }
        // A source never gives fewer samples than it counted; should a file shrink, the WAV stays whole.
        if (left > 0) yield new Uint8Array(left * 2);
      })(),
    );
    return { audio, durationMs: Math.round((samples / RATE) * 1000), loudestDbfs: Math.max(-120, Math.round(meter.dbfs * 10) / 10) };
  } finally {
    await source.dispose();
  }
}

interface PcmSource {
  /** The PCM, from the start, each time it is asked for. */
  pcm(): AsyncIterable<Int16Array>;
  /** Its length in samples, without decoding where that can be avoided. */
  samples(): Promise<number>;
  dispose(): Promise<void>;
}

/** How many samples to stage: all of them, or up to where the trailing silence began. */
async function lengthOf(source: PcmSource, trailingSilenceBelowDbfs: number | undefined): Promise<number> {
  if (trailingSilenceBelowDbfs === undefined) return source.samples();
  const trailing = new TrailingSilence(trailingSilenceBelowDbfs);
  for await (const chunk of source.pcm()) trailing.add(chunk);
  return trailing.keep();
}

/**
 * A recording up to this size (about a minute of G.711) is read once and its packets kept for both
 * passes; a longer one is read from disk for each, so that what is held stays bounded.
 */
const HELD_PCAP_BYTES = 1024 * 1024;

async function g711Source(recording: RecordingAudio): Promise<PcmSource> {
  const sizes = await Promise.all(recording.pcaps.map(async (path) => (await stat(path)).size));
  let packets = () => recordedPackets(recording.pcaps, recording.payloadType);
  if (sizes.reduce((a, b) => a + b, 0) <= HELD_PCAP_BYTES) {
    const held: RtpPacket[] = [];
    for await (const packet of packets()) held.push(packet);
    packets = async function* () {
      yield* held;
    };
  }
  return {
    pcm: () => g711Pcm(recording.codec as 'PCMU' | 'PCMA', packets()),
    async samples() {
      const placer = new TimestampPlacer();
      for await (const packet of packets()) placer.place(packet);
      return placer.end;
    },
    dispose: async () => undefined,
  };
}

async function decodedSource(recording: RecordingAudio): Promise<PcmSource> {
  const file = recording.scratchFile;
  try {
    await decodeToPcmFile(recording.codec as 'G722' | 'opus', recordedPackets(recording.pcaps, recording.payloadType), file);
  } catch (error) {
    await removeFile(file);
    throw error;
  }
  return {
    pcm: () => pcmOfFile(file),
    samples: async () => Math.floor((await stat(file)).size / 2),
    dispose: () => removeFile(file),
  };
}

async function* pcmOfFile(path: string): AsyncGenerator<Int16Array> {
  const file = await open(path, 'r');
  try {
    for (;;) {
      // A fresh buffer per read: what is yielded is staged after the next read has begun.
      const buffer = Buffer.allocUnsafe(READ_SIZE);
      const { bytesRead } = await file.read(buffer, 0, READ_SIZE, null);
      const whole = bytesRead - (bytesRead % 2);
      if (whole === 0) return;
      yield new Int16Array(buffer.buffer, buffer.byteOffset, whole >> 1);
    }
  } finally {
    await file.close();
  }
}
