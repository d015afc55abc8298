/**
 * The media sessions of this instance: one rtpengine call per SIP call, with the caller on one side
 * and our discard socket on the other (docs/design.md: a fresh answer pointing at a sink, no `blackhole`,
 * no `publish`). rtpengine's call-id is the callRef, so DTMF reports and pcap names carry it.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md
 */
import type { NatsConnection } from '@nats-io/nats-core';
import {
  DigitEventSchema,
  encodeJson,
  PlaybackFinishedEventSchema,
  publishCallEnded,
  RecordingFinishedEventSchema,
  ServiceError,
  SUBJECTS,
  type Application,
  type Playable,
  type Recording,
  currentTrace,
  inTrace,
  tracedPublish,
  type TraceContext,
} from '@sipvm/contracts';
import { callLogger, KeyedMutex, type Logger } from '@sipvm/service';
import type { Rtpengine } from './rtpengine.js';
import { chooseCodec, parseAudioOffer, sinkAnswer } from './sdp.js';
import type { MediaState, RecordingState, SessionState } from './state.js';
import { Player, type FinishReason, type QueuedPlayback } from './player.js';
import type { Recorder, RecordingLimits } from './recorder.js';
import type { PlayFiles } from './play-files.js';
import { playFormatOf } from './play-format.js';
import { digitOfEvent, type DtmfReport } from './dtmf.js';
import type { MediaMetrics } from './metrics.js';

const DUPLICATE_WINDOW_MS = 150;

export interface SessionsOptions {
  instance: string;
  /** The media node: this instance's rtpengine. */
  node: string;
  nc: NatsConnection;
  rtpengine: Rtpengine;
  state: MediaState;
  recorder: Recorder;
  playFiles: PlayFiles;
  sink: { host: string; port: number };
  inbandDtmf: boolean;
  /** RTP to the caller for the whole call: silence while nothing plays (player.ts). */
  silenceToCaller: boolean;
  metrics: MediaMetrics;
  log: Logger;
}

interface LiveSession {
  state: SessionState;
  player: Player;
  version: number;
  /** Opened by this instance and never recorded: nothing to look up before its first recording. */
  fresh: boolean;
  /** The call's trace (tracing on), which its digit, playback and recording events carry. */
  trace?: TraceContext | undefined;
}

export class Sessions {
  readonly #live = new Map<string, LiveSession>();
  readonly #mutex = new KeyedMutex();
  readonly #lastDigit = new Map<string, { event: number; at: number }>();

  constructor(private readonly options: SessionsOptions) {}

  get count(): number {
    return this.#live.size;
  }

  async open(req: { callRef: string; callId: string; app: Application; sdpOffer: string }): Promise<{ sdpAnswer: string; codec: string; natsWaitMs?: number }> {
    return this.#mutex.run(req.callRef, async () => {
      const known = this.#live.get(req.callRef);
      if (known) return { sdpAnswer: known.state.sdpAnswer, codec: known.state.codec };
      const offer = parseAudioOffer(req.sdpOffer);
      const codec = chooseCodec(offer);
      await this.options.rtpengine.ensureUp();
      const callRef = req.callRef;
      await this.options.rtpengine.command('offer', {
        'call-id': callRef,
        'from-tag': 'caller',
        sdp: req.sdpOffer,
        replace: ['origin', 'session-connection'],
        ICE: 'remove',
      });
      let sdpAnswer: string;
      try {
        const answer = await this.options.rtpengine.command('answer', {
          'call-id': callRef,
          'from-tag': 'caller',
          'to-tag': 'sink',
          sdp: sinkAnswer(codec, offer.telephoneEvent, this.options.sink, 1, offer.direction),
        });
        if (typeof answer.sdp !== 'string') throw new ServiceError('internal', 'rtpengine answered without SDP');
        sdpAnswer = answer.sdp;
        await this.#keepCallerAudioHere(callRef);
      } catch (error) {
        await this.#deleteCall(callRef);
        throw error;
      }
      const state: SessionState = {
        callRef,
        callId: req.callId,
        app: req.app,
        codec: codec.name,
        payloadType: codec.payloadType,
        instance: this.options.instance,
        node: this.options.node,
        sdpAnswer,
        openedAt: new Date().toISOString(),
      };
      let natsWaitMs: number;
      try {
        natsWaitMs = (await this.options.state.putSession(state)).waitedMs;
      } catch (error) {
        await this.#deleteCall(callRef);
        throw error;
      }
      this.#live.set(callRef, { state, player: this.#player(state), version: 1, fresh: true, trace: currentTrace() });
      const log = callLogger(this.options.log, req.callId);
      if (natsWaitMs > 0) log.info({ callRef, natsWaitMs }, 'media session opened after waiting for NATS');
      else log.debug({ callRef, codec: codec.name }, 'media session opened');
      return { sdpAnswer, codec: codec.name, ...(natsWaitMs > 0 ? { natsWaitMs } : {}) };
    });
  }

  async update(callRef: string, sdpOffer: string): Promise<{ sdpAnswer: string }> {
    return this.#mutex.run(callRef, async () => {
      const session = await this.#session(callRef);
      const offer = parseAudioOffer(sdpOffer);
      const codec = offer.codecs.find((c) => c.payloadType === session.state.payloadType) ?? chooseCodec(offer);
      await this.options.rtpengine.command('offer', {
        'call-id': callRef,
        'from-tag': 'caller',
        sdp: sdpOffer,
        replace: ['origin', 'session-connection'],
        ICE: 'remove',
      });
      session.version++;
      const answer = await this.options.rtpengine.command('answer', {
        'call-id': callRef,
        'from-tag': 'caller',
        'to-tag': 'sink',
        sdp: sinkAnswer(codec, offer.telephoneEvent, this.options.sink, session.version, offer.direction),
      });
      if (typeof answer.sdp !== 'string') throw new ServiceError('internal', 'rtpengine answered without SDP');
      await this.#keepCallerAudioHere(callRef);
      return { sdpAnswer: answer.sdp };
    });
  }

  /**
   * The caller's audio is recorded and scanned for digits inside rtpengine; nothing needs it at the
   * sink. Measured on 10.5: `block media` stops the forwarding (50 packets a second per call that
   * rtpengine would send and we would read) and keeps recording, RFC 4733 digits and playback;
   * in-band detection needs the audio path, so there it is `detect DTMF` (with a DTMF-security
   * mode, which it needs) instead.
   */
  async #keepCallerAudioHere(callRef: string): Promise<void> {
    if (this.options.inbandDtmf) {
      await this.options.rtpengine.command('blockDTMF', { 'call-id': callRef, 'from-tag': 'caller', flags: ['detect DTMF'], 'DTMF-security': 'silence' });
    } else {
      await this.options.rtpengine.command('blockMedia', { 'call-id': callRef, 'from-tag': 'caller' });
    }
  }

  /**
   * A transfer by bridge, step one: rtpengine's offer toward the party the caller is connected to
   * (the side our sink had), limited to the caller's codec (no transcoding: rtpengine relays).
   */
  async bridgeOffer(callRef: string, callerSdp: string): Promise<{ sdpOffer: string }> {
    return this.#mutex.run(callRef, async () => {
      const session = await this.#session(callRef);
      parseAudioOffer(callerSdp);
      const offer = await this.options.rtpengine.command('offer', {
        'call-id': callRef,
        'from-tag': 'caller',
        sdp: callerSdp,
        replace: ['origin', 'session-connection'],
        ICE: 'remove',
        codec: { strip: ['all'], except: [session.state.codec, 'telephone-event'] },
      });
      if (typeof offer.sdp !== 'string') throw new ServiceError('internal', 'rtpengine offered no SDP');
      return { sdpOffer: offer.sdp };
    });
  }

  /** Step two: the party answered; nothing plays any more and the caller's audio goes to the party. */
  async bridge(callRef: string, sdpAnswer: string): Promise<{ sdpAnswer: string }> {
    return this.#mutex.run(callRef, async () => {
      const session = await this.#session(callRef);
      await session.player.bridged();
      const answer = await this.options.rtpengine.command('answer', { 'call-id': callRef, 'from-tag': 'caller', 'to-tag': 'sink', sdp: sdpAnswer });
      if (typeof answer.sdp !== 'string') throw new ServiceError('internal', 'rtpengine answered without SDP');
      await this.options.rtpengine.command(this.options.inbandDtmf ? 'unblockDTMF' : 'unblockMedia', { 'call-id': callRef, 'from-tag': 'caller' });
      callLogger(this.options.log, session.state.callId).debug({ callRef }, 'caller bridged');
      return { sdpAnswer: answer.sdp };
    });
  }

  /** Ends the rtpengine call; a running recording's pcap is closed with it and kept for a later stop. */
  async close(callRef: string): Promise<{ closed: boolean }> {
    return this.#mutex.run(callRef, async () => {
      const live = this.#live.get(callRef);
      this.#live.delete(callRef);
      this.#lastDigit.delete(callRef);
      await live?.player.close();
      this.options.recorder.callEnding(callRef);
      const existed = await this.#deleteCall(callRef);
      await this.options.state.deleteSession(callRef);
      if (live) callLogger(this.options.log, live.state.callId).debug({ callRef }, 'media session closed');
      return { closed: existed || live !== undefined };
    });
  }

  async play(req: {
    callRef: string;
    playbackId: string;
    items: Playable[];
    mode: 'replace' | 'enqueue';
    thenRecord?: RecordingLimits | undefined;
  }): Promise<{ playbackId: string; durationMs: number }> {
    const session = await this.#session(req.callRef);
    const file = await this.options.playFiles.fileFor(req.items, `${req.callRef}-${req.playbackId}`, playFormatOf(session.state.codec));
    const playback = {
      playbackId: req.playbackId,
      file: file.path,
      durationMs: file.durationMs,
      temporary: file.temporary,
      ...(req.thenRecord ? { thenRecord: req.thenRecord } : {}),
    };
    await this.#mutex.run(req.callRef, () => session.player.play(playback, req.mode));
    return { playbackId: req.playbackId, durationMs: file.durationMs };
  }

  async stopPlayback(callRef: string): Promise<{ stopped: boolean }> {
    const session = await this.#session(callRef);
    return { stopped: await this.#mutex.run(callRef, () => session.player.stop()) };
  }

  async startRecording(callRef: string, limits: RecordingLimits): Promise<{ startedAt: string }> {
    return this.#mutex.run(callRef, async () => {
      const session = await this.#session(callRef);
      const started = await this.options.recorder.start(session.state, limits, session.fresh);
      session.fresh = false;
      return started;
    });
  }

  async stopRecording(callRef: string, discard: boolean): Promise<{ recording: Recording | null }> {
    return this.#mutex.run(callRef, async () => {
      const recording = await this.options.recorder.stop(callRef, discard);
      if (recording) this.options.metrics.recordings.inc({ codec: recording.codec });
      return { recording };
    });
  }

  /** The call is over and its recording handed over: its state goes (recorder.ts `release`). */
  async releaseRecording(callRef: string): Promise<{ released: boolean }> {
    return this.#mutex.run(callRef, async () => ({ released: await this.options.recorder.release(callRef) }));
  }

  /** A DTMF report from rtpengine becomes a digit event for the call's application. */
  async digit(report: DtmfReport): Promise<void> {
    if (this.#isEcho(report)) return;
    const state = this.#live.get(report.callid)?.state ?? (await this.options.state.getSession(report.callid).catch(() => undefined));
    if (!state) {
      this.options.log.warn({ callRef: report.callid }, 'DTMF report for an unknown call; ignored');
      return;
    }
    const event = DigitEventSchema.parse({
      callRef: state.callRef,
      callId: state.callId,
      at: new Date().toISOString(),
      digit: digitOfEvent(report.event),
      source: report.type === undefined || report.type === 'DTMF' ? 'rfc4733' : 'inband',
    });
    this.#publish(state.callRef, SUBJECTS.call.digit(state.app), encodeJson(event));
    this.options.metrics.digits.inc({ source: event.source });
    callLogger(this.options.log, state.callId).debug({ callRef: state.callRef, digit: event.digit }, 'digit');
  }

  /**
   * With in-band detection on, rtpengine 10.5 reports an RFC 4733 digit twice: as the event and,
   * 60–80 ms later, from the audio. The same digit of the same call within this window is dropped
   * (a person pressing a key twice takes well over 150 ms: tone plus pause).
   */
  #isEcho(report: DtmfReport): boolean {
    if (!this.options.inbandDtmf) return false;
    const now = Date.now();
    const last = this.#lastDigit.get(report.callid);
    this.#lastDigit.set(report.callid, { event: report.event, at: now });
    return last !== undefined && last.event === report.event && now - last.at < DUPLICATE_WINDOW_MS;
  }

  recordingReachedMax(recording: RecordingState): void {
    this.#recordingFinished(recording, { reason: 'max-duration' });
  }

  /** Silence went on long enough: the recording ends (in the call's turn) and the app is told. */
  async recordingFellSilent(callRef: string, speech: boolean): Promise<void> {
    const ended = await this.#mutex.run(callRef, () => this.options.recorder.endBySilence(callRef));
    if (!ended) return;
    callLogger(this.options.log, ended.callId).debug({ callRef, speech }, 'silence ended the recording');
    this.#recordingFinished(ended, { reason: 'silence', speech });
  }

  #recordingFinished(recording: RecordingState, why: { reason: 'max-duration' } | { reason: 'silence'; speech: boolean }): void {
    const event = RecordingFinishedEventSchema.parse({ callRef: recording.callRef, callId: recording.callId, at: new Date().toISOString(), ...why });
    this.#publish(recording.callRef, SUBJECTS.call.recordingFinished(recording.app), encodeJson(event));
  }

  /**
   * Shutdown: playbacks end (reported as stopped), but rtpengine calls and recordings stay, so the
   * callers keep their audio path and the next run of this instance (or any instance, for
   * recordings) takes the calls over from their stored state.
   */
  async detachAll(): Promise<void> {
    const live = [...this.#live.values()];
    this.#live.clear();
    await Promise.allSettled(live.map((session) => session.player.close()));
  }

  /**
   * Ends the calls of this node whose audio path is gone: their state says they are open, but
   * rtpengine (restarted after a crash, maybe with the whole node) does not know them. Nobody else
   * would end them — the node's signaling and drachtio-server may have died too — so the
   * applications are told here that they ended (`media-timeout`); a hand-over then delivers what
   * was recorded until then from the pcap on this node's disk. Sessions opened after rtpengine's
   * list was taken are left alone. Returns how many were ended.
   */
  async endOrphans(): Promise<number> {
    const listedAt = Date.now();
    const alive = new Set(await this.options.rtpengine.callIds());
    const orphans = (await this.options.state.sessions()).filter(
      (s) => s.node === this.options.node && !alive.has(s.callRef) && Date.parse(s.openedAt) < listedAt,
    );
    let ended = 0;
    for (const orphan of orphans) {
      await this.#mutex.run(orphan.callRef, async () => {
        if (!(await this.options.state.getSession(orphan.callRef))) return; // closed meanwhile
        const live = this.#live.get(orphan.callRef);
        this.#live.delete(orphan.callRef);
        await live?.player.close();
        this.options.recorder.callEnding(orphan.callRef);
        await this.options.state.deleteSession(orphan.callRef);
        await publishCallEnded(this.options.nc, orphan.app, {
          callRef: orphan.callRef,
          callId: orphan.callId,
          at: new Date().toISOString(),
          reason: 'media-timeout',
        });
        callLogger(this.options.log, orphan.callId).warn({ callRef: orphan.callRef, openedAt: orphan.openedAt }, 'rtpengine lost the call: ended');
        ended++;
      });
    }
    return ended;
  }

  async #session(callRef: string): Promise<LiveSession> {
    const live = this.#live.get(callRef);
    if (live) return live;
    // Opened by a previous run of this instance: take it over from its stored state.
    const state = await this.options.state.getSession(callRef);
    if (!state) throw new ServiceError('bad-request', `no media session for call ${callRef} (closed or never opened)`);
    const adopted = { state, player: this.#player(state), version: 1, fresh: false };
    this.#live.set(callRef, adopted);
    return adopted;
  }

  #player(state: SessionState): Player {
    const format = playFormatOf(state.codec);
    return new Player({
      callRef: state.callRef,
      rtpengine: this.options.rtpengine,
      finished: (playback, reason) => void this.#finished(state, playback, reason),
      silence: this.options.silenceToCaller ? () => this.options.playFiles.silence(format) : undefined,
      log: callLogger(this.options.log, state.callId),
    });
  }

  /** Reports a playback's end, after starting the recording it asked for (so the report can say when). */
  async #finished(state: SessionState, playback: QueuedPlayback, reason: FinishReason): Promise<void> {
    let recordingStartedAt: string | undefined;
    if (reason === 'completed' && playback.thenRecord) {
      try {
        recordingStartedAt = (await this.startRecording(state.callRef, playback.thenRecord)).startedAt;
      } catch (error) {
        callLogger(this.options.log, state.callId).error({ callRef: state.callRef, err: String(error) }, 'recording after the playback could not start');
      }
    }
    const event = PlaybackFinishedEventSchema.parse({
      callRef: state.callRef,
      callId: state.callId,
      at: new Date().toISOString(),
      playbackId: playback.playbackId,
      reason,
      ...(recordingStartedAt ? { recordingStartedAt } : {}),
    });
    this.#publish(state.callRef, SUBJECTS.call.playbackFinished(state.app), encodeJson(event));
    this.options.metrics.playbacks.inc({ reason });
  }

  /** An event of a call, in the call's trace when there is one. */
  #publish(callRef: string, subject: string, data: Uint8Array): void {
    inTrace(this.#live.get(callRef)?.trace, () => this.options.nc.publish(subject, data, tracedPublish()));
  }

  /** Deletes the rtpengine call; false when rtpengine did not know it. */
  async #deleteCall(callRef: string): Promise<boolean> {
    try {
      await this.options.rtpengine.command('delete', { 'call-id': callRef });
      return true;
    } catch (error) {
      if (error instanceof ServiceError && error.kind === 'service-unavailable') throw error;
      return false;
    }
  }
}
