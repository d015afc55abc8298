/**
 * Sustained silence, heard while the caller is recorded (docs/behaviour.md §2: silence ends the recording).
 *
 * The caller's audio reaches no socket of ours: media blocks it in rtpengine (sessions.ts), which
 * records it into a pcap. So the watch reads each watched recording's pcap as it grows — no packet
 * more on the wire — and measures its G.711 frames. A pcap is read only when its silence could have
 * lasted long enough (`silenceMs` after the last loud frame heard), so a caller who speaks costs a
 * read about every `silenceMs`, and a read measures frames newest first until a loud one.
 * rtpengine writes pcaps through stdio's buffer (4 KiB: about 0.4 s of PCMU), so the watch hears
 * the caller up to that much late, and it looks once per poll: silence ends a recording between
 * `silenceMs` and `silenceMs` + poll + 0.4 s after the last loud frame. G.722 and Opus would need
 * a decoder per call; their recordings are not watched (they end as before).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { EndOnSilence } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import { ALAW, ULAW } from './g711.js';
import { PcapReader } from './pcap.js';
import { RATE } from './wav.js';

/** Squared sample values per G.711 byte: the power of a frame is a table look-up per byte. */
const POWER = { PCMU: Float64Array.from(ULAW, (s) => s * s), PCMA: Float64Array.from(ALAW, (s) => s * s) } as const;
const FULL_SCALE_POWER = 32768 * 32768;
/** Bytes read from a pcap per system call. */
const READ_SIZE = 64 * 1024;

export type WatchableCodec = keyof typeof POWER;

export function isWatchable(codec: string): codec is WatchableCodec {
  return codec in POWER;
}

/** The mean power of a frame at `dbfs` (what a frame's mean square is compared with). */
export function powerOf(dbfs: number): number {
  return FULL_SCALE_POWER * 10 ** (dbfs / 10);
}

export interface WatchedRecording {
  callRef: string;
  codec: WatchableCodec;
  payloadType: number;
  /** When the recording started (ms since the epoch): silence counts from here until a loud frame. */
  startedAtMs: number;
  endOnSilence: EndOnSilence;
  /** The pcap rtpengine writes for this recording. */
  file: string;
}

interface Watch extends WatchedRecording {
  fd: number;
  offset: number;
  reader: PcapReader;
  threshold: number;
  lastLoudAtMs: number;
  speech: boolean;
}

export interface SilenceWatchOptions {
  pcapDir: string;
  pollMs: number;
  /** Told once per recording when its silence has lasted long enough; the watch has let it go. */
  onSilence: (callRef: string, speech: boolean) => void;
  log: Logger;
  now?: () => number;
}

export class SilenceWatch {
  readonly #watches = new Map<string, Watch>();
  readonly #buffer = Buffer.allocUnsafe(READ_SIZE);
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SilenceWatchOptions) {
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#watches.size;
  }

  watch(recording: WatchedRecording): void {
    this.unwatch(recording.callRef);
    const fd = openSync(join(this.options.pcapDir, recording.file), 'r');
    this.#watches.set(recording.callRef, {
      ...recording,
      fd,
      offset: 0,
      reader: new PcapReader(),
      threshold: powerOf(recording.endOnSilence.thresholdDbfs),
      lastLoudAtMs: recording.startedAtMs,
      speech: false,
    });
    this.#timer ??= setInterval(() => this.poll(), this.options.pollMs);
  }

  unwatch(callRef: string): void {
    const watch = this.#watches.get(callRef);
    if (!watch) return;
    this.#watches.delete(callRef);
    closeSync(watch.fd);
    if (this.#watches.size === 0) this.#stopTimer();
  }

  /**
   * Reads what each pcap gained since the last poll and ends the recordings that have been silent
   * long enough. Synchronous reads: the bytes are in the page cache (rtpengine just wrote them), and
   * a read costs microseconds where a trip through libuv's thread pool would cost more.
   */
  poll(): void {
    const now = this.#now();
    for (const watch of [...this.#watches.values()]) {
      // Nothing in the file can end the recording before its silence could have lasted long enough:
      // while the caller speaks, a pcap is read about once per `silenceMs`, not once per poll.
      if (now - watch.lastLoudAtMs < watch.endOnSilence.silenceMs) continue;
      try {
        this.#listen(watch);
      } catch (error) {
        this.options.log.warn({ callRef: watch.callRef, err: String(error) }, 'cannot read the recording to hear silence; not watching it any more');
        this.unwatch(watch.callRef);
        continue;
      }
      if (now - watch.lastLoudAtMs >= watch.endOnSilence.silenceMs) {
        this.unwatch(watch.callRef);
        this.options.onSilence(watch.callRef, watch.speech);
      }
    }
  }

  close(): void {
    for (const callRef of [...this.#watches.keys()]) this.unwatch(callRef);
    this.#stopTimer();
  }

  /**
   * Reads what the pcap gained and moves `lastLoudAtMs` to its newest loud frame. Frames are
   * measured newest first and only until a loud one is found: while the caller speaks that is the
   * first one, and only silence costs a look at every frame.
   */
  #listen(watch: Watch): void {
    const power = POWER[watch.codec];
    for (;;) {
      const read = readSync(watch.fd, this.#buffer, 0, READ_SIZE, watch.offset);
      if (read === 0) return;
      watch.offset += read;
      const frames: { payload: Buffer; atMs: number }[] = [];
      for (const { packet, atMs } of watch.reader.read(this.#buffer.subarray(0, read))) {
        if (packet.payloadType === watch.payloadType && packet.payload.length > 0) frames.push({ payload: packet.payload, atMs });
      }
      for (let f = frames.length - 1; f >= 0; f--) {
        const { payload, atMs } = frames[f]!;
        if (atMs <= watch.lastLoudAtMs) break;
        let sum = 0;
        for (let i = 0; i < payload.length; i++) sum += power[payload[i]!]!;
        if (sum / payload.length >= watch.threshold) {
          watch.lastLoudAtMs = atMs;
          watch.speech = true;
          break;
        }
      }
      if (read < READ_SIZE) return;
    }
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** How much quiet stays after the last loud frame when trailing silence is cut: the word's decay. */
export const TAIL_KEPT_MS = 500;

/**
 * Where a recording's trailing silence begins, heard as its PCM streams by: the recording is kept
 * up to `TAIL_KEPT_MS` after the end of the last 20 ms frame at least as loud as the threshold.
 * Audio that is silent throughout is kept whole, so that the deposit check still tells it as
 * silence rather than as too short.
 */
export class TrailingSilence {
  readonly #threshold: number;
  readonly #frame = RATE / 50;
  #sum = 0;
  #inFrame = 0;
  #samples = 0;
  #lastLoudEnd: number | undefined;

  constructor(thresholdDbfs: number) {
    this.#threshold = powerOf(thresholdDbfs);
  }

  add(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i]!;
      this.#sum += sample * sample;
      this.#samples++;
      if (++this.#inFrame === this.#frame) this.#closeFrame();
    }
  }

  /** How many samples to keep of those heard. */
  keep(): number {
    if (this.#inFrame > 0) this.#closeFrame();
    if (this.#lastLoudEnd === undefined) return this.#samples;
    return Math.min(this.#samples, this.#lastLoudEnd + Math.round((RATE * TAIL_KEPT_MS) / 1000));
  }

  #closeFrame(): void {
    if (this.#sum / this.#inFrame >= this.#threshold) this.#lastLoudEnd = this.#samples;
    this.#sum = 0;
    this.#inFrame = 0;
  }
}
