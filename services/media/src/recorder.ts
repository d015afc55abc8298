/**
 * Recording the caller: rtpengine writes the caller's RTP into a pcap (`recording-method = pcap`);
 * on stop we turn it into a WAV and stage it for storage. The state lives in NATS KV, so any
 * instance beside the same rtpengine can stop a recording that another (or a previous) one started.
 * Sequence: docs/flows/hangup-and-handover.md
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { ServiceError, type EndOnSilence, type Recording, type StagingBucket } from '@sipvm/contracts';
import { removeFile, sleep } from './util.js';
import type { Logger } from '@sipvm/service';
import type { Rtpengine } from './rtpengine.js';
import type { MediaState, RecordingState, SessionState } from './state.js';
import { stageRecording } from './recording-audio.js';
import { isWatchable, SilenceWatch } from './silence.js';

export interface RecorderOptions {
  rtpengine: Rtpengine;
  state: MediaState;
  recordingDir: string;
  staging: () => Promise<StagingBucket>;
  log: Logger;
  /** Told when a recording reached its maximum length and rtpengine stopped it. */
  onMaxDuration: (recording: RecordingState) => void;
  /** How often recordings that end on silence are listened to. */
  silencePollMs: number;
  /** Told when a recording that ends on silence has been silent long enough (call `endBySilence`). */
  onSilence: (callRef: string, speech: boolean) => void;
}

/** What a recording is asked for (MediaApi startRecording, play's thenRecord). */
export interface RecordingLimits {
  maxDurationMs: number;
  endOnSilence?: EndOnSilence | undefined;
}

export class Recorder {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Recordings this instance started and has not stopped: their state without a KV read. */
  readonly #mine = new Map<string, RecordingState>();
  /** Calls this instance ended in rtpengine (which closed their pcaps): no stop command to send. */
  readonly #callsGone = new Set<string>();
  readonly #silence: SilenceWatch;

  constructor(private readonly options: RecorderOptions) {
    this.#silence = new SilenceWatch({ pcapDir: this.pcapDir, pollMs: options.silencePollMs, onSilence: options.onSilence, log: options.log });
  }

  /** This media instance's rtpengine, as recorded in the state of the recordings it starts. */
  get #identity(): string {
    return `${hostname()}/${this.options.rtpengine.description}`;
  }

  get pcapDir(): string {
    return join(this.options.recordingDir, 'pcaps');
  }

  /**
   * Starts recording the caller. `first`: this instance opened the call and has recorded nothing
   * in it, so there is no earlier recording to look up or earlier pcap to tell apart (the usual
   * voicemail call: no KV read, no folder listing).
   */
  async start(session: SessionState, limits: RecordingLimits, first = false): Promise<{ startedAt: string }> {
    const { maxDurationMs, endOnSilence } = limits;
    const existing = first ? undefined : (this.#mine.get(session.callRef) ?? (await this.options.state.getRecording(session.callRef)));
    if (existing?.state === 'recording') return { startedAt: existing.startedAt };
    if (existing) await this.#forget(existing);
    const earlierPcaps = first ? [] : await this.#pcapsOf(session.callRef);
    await this.options.rtpengine.command('startRecording', { 'call-id': session.callRef, 'from-tag': 'caller' });
    const recording: RecordingState = {
      callRef: session.callRef,
      callId: session.callId,
      app: session.app,
      codec: session.codec,
      payloadType: session.payloadType,
      startedAt: new Date().toISOString(),
      maxDurationMs,
      ...(endOnSilence ? { endOnSilence } : {}),
      recorder: this.#identity,
      earlierPcaps,
      state: 'recording',
    };
    await this.options.state.putRecording(recording);
    this.#mine.set(recording.callRef, recording);
    this.#armTimer(recording);
    await this.#listenForSilence(recording);
    return { startedAt: recording.startedAt };
  }

  /**
   * Silence ended the recording: rtpengine stops writing and the state says so (its delivery then
   * leaves the trailing silence out). Undefined when it was no longer recording. Run it in the call's
   * turn, like `stop`, so the two never overlap.
   */
  async endBySilence(callRef: string): Promise<RecordingState | undefined> {
    this.#unwatch(callRef);
    const recording = this.#mine.get(callRef) ?? (await this.options.state.getRecording(callRef));
    if (recording?.state !== 'recording') return undefined;
    await this.#stopRtpengine(callRef);
    const ended: RecordingState = { ...recording, state: 'stopped', endedBy: 'silence' };
    await this.options.state.putRecording(ended);
    this.#mine.set(callRef, ended);
    return ended;
  }

  /**
   * rtpengine stops writing, the pcap stays for a later `stop` (maximum reached). The stored state
   * still says `recording`: a `stop` asks rtpengine to stop again, which is harmless, and this
   * saves a write per call.
   */
  async halt(callRef: string): Promise<void> {
    this.#unwatch(callRef);
    await this.#stopRtpengine(callRef);
  }

  /**
   * The call is about to be deleted in rtpengine, which closes its pcaps by itself: nothing to ask
   * rtpengine now nor at the `stop` that follows. Call it before the delete.
   */
  callEnding(callRef: string): void {
    this.#unwatch(callRef);
    if (this.#mine.has(callRef)) this.#callsGone.add(callRef);
  }

  /**
   * Stops the recording and stages it as a WAV (recording-audio.ts); null when there is none. Safe
   * to repeat: a recording delivered lately is returned again.
   */
  async stop(callRef: string, discard: boolean): Promise<Recording | null> {
    this.#unwatch(callRef);
    const recording = this.#mine.get(callRef) ?? (await this.options.state.getRecording(callRef));
    this.#mine.delete(callRef);
    const callGone = this.#callsGone.delete(callRef);
    if (!recording) return null;
    if (recording.state === 'delivered') return discard ? null : (recording.delivered ?? null);
    if (recording.recorder !== this.#identity) {
      throw new ServiceError(
        'service-unavailable',
        `recording of ${callRef} is on ${recording.recorder}; only a media instance beside that rtpengine can deliver it`,
      );
    }
    if (recording.state === 'recording' && !callGone) await this.#stopRtpengine(callRef);
    if (discard) {
      await this.#forget(recording);
      return null;
    }
    const files = await this.#newPcaps(recording);
    if (files.length === 0) throw new ServiceError('internal', `rtpengine wrote no pcap for the recording of ${callRef} in ${this.pcapDir}`);
    const name = `recording-${callRef}-${Date.parse(recording.startedAt)}.wav`;
    const staged = await stageRecording(await this.options.staging(), name, {
      pcaps: files.map((file) => join(this.pcapDir, file)),
      codec: recording.codec,
      payloadType: recording.payloadType,
      maxDurationMs: recording.maxDurationMs,
      trailingSilenceBelowDbfs: recording.endedBy === 'silence' ? recording.endOnSilence?.thresholdDbfs : undefined,
      scratchFile: join(this.pcapDir, `${name}.pcm`),
    });
    const delivered: Recording = {
      audio: staged.audio,
      startedAt: recording.startedAt,
      durationMs: staged.durationMs,
      codec: recording.codec,
      loudestDbfs: staged.loudestDbfs,
    };
    await this.options.state.putRecording({ ...recording, state: 'delivered', delivered });
    await this.#removePcaps(files);
    this.options.log.debug({ callRef, callId: recording.callId, durationMs: delivered.durationMs, codec: recording.codec }, 'recording staged');
    return delivered;
  }

  /**
   * The application is done with the call (its record is gone): nothing will ask for the
   * recording again. False when it was still being recorded — an application that ended the call
   * without stopping it; its pcap is then left to the sweep.
   */
  async release(callRef: string): Promise<boolean> {
    if (this.#mine.has(callRef)) return false;
    await this.options.state.releaseRecording(callRef);
    return true;
  }

  #unwatch(callRef: string): void {
    clearTimeout(this.#timers.get(callRef));
    this.#timers.delete(callRef);
    this.#silence.unwatch(callRef);
  }

  /**
   * After a restart: the recordings this rtpengine still writes get their maximum-length timers
   * back (one that ran out meanwhile ends at once), so none records forever, and are listened to
   * for silence again where they asked for it. Returns how many.
   */
  async resume(): Promise<number> {
    const mine = (await this.options.state.recordings()).filter(
      (r) => r.state === 'recording' && r.recorder === this.#identity && !this.#timers.has(r.callRef),
    );
    for (const recording of mine) {
      this.#mine.set(recording.callRef, recording);
      this.#armTimer(recording);
      await this.#listenForSilence(recording);
    }
    return mine.length;
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#silence.close();
  }

  /** Recordings that end on silence are listened to from their start (G.711 only: silence.ts). */
  async #listenForSilence(recording: RecordingState): Promise<void> {
    if (!recording.endOnSilence) return;
    if (!isWatchable(recording.codec)) {
      this.options.log.debug({ callRef: recording.callRef, codec: recording.codec }, 'silence is not listened for in this codec');
      return;
    }
    const earlier = new Set(recording.earlierPcaps);
    const file = (await this.#pcapsOf(recording.callRef)).find((name) => !earlier.has(name));
    if (!file) {
      this.options.log.warn({ callRef: recording.callRef, callId: recording.callId }, 'no pcap for the new recording; silence will not end it');
      return;
    }
    try {
      this.#silence.watch({
        callRef: recording.callRef,
        codec: recording.codec,
        payloadType: recording.payloadType,
        startedAtMs: Date.parse(recording.startedAt),
        endOnSilence: recording.endOnSilence,
        file,
      });
    } catch (error) {
      this.options.log.warn(
        { callRef: recording.callRef, callId: recording.callId, err: String(error) },
        'cannot open the new recording; silence will not end it',
      );
    }
  }

  #armTimer(recording: RecordingState): void {
    const left = Date.parse(recording.startedAt) + recording.maxDurationMs - Date.now();
    const timer = setTimeout(
      () => {
        this.#timers.delete(recording.callRef);
        void this.halt(recording.callRef).then(
          () => this.options.onMaxDuration(recording),
          (error: unknown) => this.options.log.error({ callRef: recording.callRef, err: String(error) }, 'cannot stop recording at its maximum length'),
        );
      },
      Math.max(0, left),
    );
    timer.unref();
    this.#timers.set(recording.callRef, timer);
  }

  async #stopRtpengine(callRef: string): Promise<void> {
    try {
      await this.options.rtpengine.command('stopRecording', { 'call-id': callRef, 'from-tag': 'caller' });
    } catch (error) {
      // The call may be gone already (closed); its pcap is complete then.
      if (error instanceof ServiceError && error.kind === 'service-unavailable') throw error;
    }
  }

  async #pcapsOf(callRef: string): Promise<string[]> {
    const names = await readdir(this.pcapDir).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(`${callRef}-`) && n.endsWith('.pcap'));
  }

  /** The pcaps written since the recording started, oldest first, once rtpengine has closed them. */
  async #newPcaps(recording: RecordingState): Promise<string[]> {
    const earlier = new Set(recording.earlierPcaps);
    for (let attempt = 0; ; attempt++) {
      const files = (await this.#pcapsOf(recording.callRef)).filter((n) => !earlier.has(n));
      if (files.length === 1) return files;
      if (files.length > 0 || attempt >= 20) {
        const withTimes = await Promise.all(files.map(async (n) => ({ n, t: (await stat(join(this.pcapDir, n))).mtimeMs })));
        return withTimes.sort((a, b) => a.t - b.t).map((f) => f.n);
      }
      await sleep(50);
    }
  }

  async #removePcaps(files: string[]): Promise<void> {
    await Promise.all(
      files.map(async (file) => {
        await removeFile(join(this.pcapDir, file));
        await removeFile(join(this.options.recordingDir, 'metadata', `rtpengine-meta-${file.replace(/\.pcap$/, '.txt')}`));
      }),
    );
  }

  async #forget(recording: RecordingState): Promise<void> {
    if (recording.state !== 'delivered') await this.#removePcaps(await this.#newPcaps({ ...recording }).catch(() => []));
    await this.options.state.deleteRecording(recording.callRef);
  }

  /** Removes pcaps nobody claimed within `maxAgeMs` (their state expired with the KV TTL). */
  async sweep(maxAgeMs: number): Promise<number> {
    const names = await readdir(this.pcapDir).catch(() => [] as string[]);
    const old = [];
    for (const name of names) {
      const info = await stat(join(this.pcapDir, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > maxAgeMs) old.push(name);
    }
    await this.#removePcaps(old);
    return old.length;
  }
}
