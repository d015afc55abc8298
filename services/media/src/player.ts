/**
 * Playback of one call: play requests run one after the other. rtpengine's `play media` has no
 * "finished" event, so each one is timed by the duration rtpengine reports; `replace` and
 * `stopPlayback` stop the current one (`stop media`) and everything queued behind it.
 * Every accepted play request ends with exactly one playback-finished report.
 */
import { removeFile } from './util.js';
import type { Logger } from '@sipvm/service';
import type { Rtpengine } from './rtpengine.js';
import type { RecordingLimits } from './recorder.js';

export type FinishReason = 'completed' | 'stopped' | 'failed';

export interface QueuedPlayback {
  playbackId: string;
  file: string;
  durationMs: number;
  /** Written for this playback only: removed when it is over. */
  temporary: boolean;
  /** Record the caller from the moment this playback completes. */
  thenRecord?: RecordingLimits;
}

export class Player {
  #queue: QueuedPlayback[] = [];
  #current: { playback: QueuedPlayback; timer: NodeJS.Timeout | undefined } | undefined;
  #closed = false;

  constructor(
    private readonly callRef: string,
    private readonly rtpengine: Rtpengine,
    private readonly finished: (playback: QueuedPlayback, reason: FinishReason) => void,
    private readonly log: Logger,
  ) {}

  get playing(): boolean {
    return this.#current !== undefined;
  }

  async play(playback: QueuedPlayback, mode: 'replace' | 'enqueue'): Promise<void> {
    if (mode === 'replace') await this.stop();
    this.#queue.push(playback);
    if (!this.#current) await this.#next();
  }

  /** Stops what plays and drops the queue; true when something was playing. */
  async stop(): Promise<boolean> {
    return this.#drain(true);
  }

  /** The call is gone: everything pending ends as stopped, nothing more is sent to rtpengine. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#drain(false);
  }

  async #drain(stopMedia: boolean): Promise<boolean> {
    const current = this.#current;
    const dropped = this.#queue;
    this.#queue = [];
    this.#current = undefined;
    if (current) {
      clearTimeout(current.timer);
      if (stopMedia) {
        try {
          await this.rtpengine.command('stopMedia', { 'call-id': this.callRef, 'from-tag': 'caller' });
        } catch (error) {
          this.log.warn({ err: String(error) }, 'stop media failed');
        }
      }
      this.#done(current.playback, 'stopped');
    }
    for (const playback of dropped) this.#done(playback, 'stopped');
    return current !== undefined;
  }

  async #next(): Promise<void> {
    const playback = this.#queue.shift();
    if (!playback || this.#closed) return;
    const current: { playback: QueuedPlayback; timer: NodeJS.Timeout | undefined } = { playback, timer: undefined };
    this.#current = current;
    let durationMs = playback.durationMs;
    try {
      const reply = await this.rtpengine.command('playMedia', { 'call-id': this.callRef, 'from-tag': 'caller', file: playback.file });
      if (typeof reply.duration === 'number' && reply.duration > 0) durationMs = reply.duration;
    } catch (error) {
      this.log.error({ err: String(error), playbackId: playback.playbackId }, 'play media failed');
      if (this.#current === current) this.#current = undefined;
      this.#done(playback, 'failed');
      await this.#next();
      return;
    }
    if (this.#current !== current) return; // stopped while rtpengine was starting it
    current.timer = setTimeout(() => {
      if (this.#current !== current) return;
      this.#current = undefined;
      this.#done(playback, 'completed');
      void this.#next();
    }, durationMs);
  }

  #done(playback: QueuedPlayback, reason: FinishReason): void {
    if (playback.temporary) void removeFile(playback.file).catch(() => undefined);
    this.finished(playback, reason);
  }
}
