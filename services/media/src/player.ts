/**
 * Playback of one call: play requests run one after the other. rtpengine's `play media` has no
 * "finished" event, so each one is timed by the duration rtpengine reports; `replace` and
 * `stopPlayback` stop the current one and everything queued behind it. Every accepted play
 * request ends with exactly one playback-finished report.
 *
 * While nothing is to be played, the caller hears silence — real RTP, looped from a file in the
 * call's codec (`silence`) — so that the caller's phone, and SBCs and NATs on the way, see audio
 * for the whole call: an RTP inactivity timer would otherwise end a long message. A new playback
 * replaces the silence in rtpengine (no stop command between the two).
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

/** How often the silence file loops: longer than any call lasts. */
const SILENCE_REPEATS = 1_000;

export interface PlayerOptions {
  callRef: string;
  rtpengine: Rtpengine;
  /** Told when a playback is over (completed, stopped or failed). */
  finished: (playback: QueuedPlayback, reason: FinishReason) => void;
  /** The silence played while nothing else is; undefined: nothing then (rtpengine sends nothing). */
  silence?: (() => Promise<{ path: string }>) | undefined;
  log: Logger;
}

export class Player {
  #queue: QueuedPlayback[] = [];
  #current: { playback: QueuedPlayback; timer: NodeJS.Timeout | undefined } | undefined;
  #closed = false;
  /** rtpengine plays the silence now. */
  #silent = false;
  /** The caller is connected to someone else (a transfer by bridge): no silence any more. */
  #bridged = false;
  /** rtpengine's commands for this call, one after the other: a playback never overtakes the silence it replaces. */
  #commands: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PlayerOptions) {}

  get playing(): boolean {
    return this.#current !== undefined;
  }

  async play(playback: QueuedPlayback, mode: 'replace' | 'enqueue'): Promise<void> {
    // The new playback replaces whatever rtpengine plays: no stop command first.
    if (mode === 'replace') this.#drain();
    this.#queue.push(playback);
    if (!this.#current) await this.#next();
  }

  /** Stops what plays and drops the queue (the caller hears silence then); true when something was playing. */
  async stop(): Promise<boolean> {
    const stopped = this.#drain();
    if (stopped) await this.#quiet();
    return stopped;
  }

  /** The caller is connected to another party now: nothing plays from here on, not even silence. */
  async bridged(): Promise<void> {
    this.#bridged = true;
    const wasSounding = this.#drain() || this.#silent;
    this.#silent = false;
    if (wasSounding) await this.#stopMedia();
  }

  /** The call is gone: everything pending ends as stopped, nothing more is sent to rtpengine. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#drain();
  }

  /** Reports the current playback and the queued ones as stopped; true when one was playing. */
  #drain(): boolean {
    const current = this.#current;
    const dropped = this.#queue;
    this.#queue = [];
    this.#current = undefined;
    if (current) {
      clearTimeout(current.timer);
      this.#done(current.playback, 'stopped');
    }
    for (const playback of dropped) this.#done(playback, 'stopped');
    return current !== undefined;
  }

  /** The next queued playback; with none left, silence (the last one ended by itself in rtpengine). */
  async #next(): Promise<void> {
    const playback = this.#queue.shift();
    if (this.#closed) return;
    if (!playback) return this.#fill();
    const current: { playback: QueuedPlayback; timer: NodeJS.Timeout | undefined } = { playback, timer: undefined };
    this.#current = current;
    this.#silent = false;
    let durationMs = playback.durationMs;
    try {
      const reply = await this.#command('playMedia', { file: playback.file });
      if (typeof reply.duration === 'number' && reply.duration > 0) durationMs = reply.duration;
    } catch (error) {
      this.options.log.error({ err: String(error), playbackId: playback.playbackId }, 'play media failed');
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

  /** A playback was cut short: silence now, where there is one, else rtpengine is told to stop. */
  async #quiet(): Promise<void> {
    if (this.#closed || this.#current) return;
    if (!this.options.silence || this.#bridged) await this.#stopMedia();
    else await this.#fill();
  }

  /** Silence while nothing plays, where there is one. */
  async #fill(): Promise<void> {
    if (this.#closed || this.#current || this.#bridged || !this.options.silence) return;
    try {
      const silence = await this.options.silence();
      if (this.#closed || this.#current || this.#bridged) return;
      await this.#command('playMedia', { file: silence.path, 'repeat-times': SILENCE_REPEATS });
      this.#silent = true;
    } catch (error) {
      // The call goes on; only an RTP inactivity timer on the way could end it now.
      this.options.log.warn({ err: String(error) }, 'silence for the caller could not be played');
    }
  }

  async #stopMedia(): Promise<void> {
    try {
      await this.#command('stopMedia', {});
    } catch (error) {
      this.options.log.warn({ err: String(error) }, 'stop media failed');
    }
  }

  #command(name: 'playMedia' | 'stopMedia', params: Record<string, unknown>) {
    const sent = this.#commands.then(() => this.options.rtpengine.command(name, { 'call-id': this.options.callRef, 'from-tag': 'caller', ...params }));
    this.#commands = sent.catch(() => undefined);
    return sent;
  }

  #done(playback: QueuedPlayback, reason: FinishReason): void {
    if (playback.temporary) void removeFile(playback.file).catch(() => undefined);
    this.options.finished(playback, reason);
  }
}
