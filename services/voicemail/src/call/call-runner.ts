/**
 * Runs leave-a-message calls: feeds the pure flow (flow.ts) the call's events and carries out
 * what it decides, through media and signaling.
 *
 * Stateless instances: a call's state lives in a KV bucket and every change is a compare-and-set,
 * so any instance may take any event of any call (queue group). Caller hang-ups are also kept in
 * a JetStream stream and taken with a durable consumer: the recording is stopped and handed over
 * (deposit) even when the instance that was running the call died.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import {
  AppParamsSchema,
  CallEndedEventSchema,
  decodeJson,
  encodeJson,
  ensureStreams,
  isServiceError,
  MediaApi,
  PlayableSchema,
  publishDeposit,
  request,
  SignalingApi,
  StorageApi,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type CallStartedEvent,
  type Playable,
  openKv,
} from '@sipvm/contracts';
import { callLogger, startDurableWorker, subscribeCallEvents, type Logger } from '@sipvm/service';
import { onEvent, startCall, type Action, type CallEvent, type CallState } from './flow.js';
import type { CallConfig } from './config.js';

export const CALLS_BUCKET = 'vm-voicemail-calls';
export const VOICEMAIL_QUEUE = 'voicemail';
const CALL_TTL_MS = 4 * 3600 * 1000;
const APP = 'voicemail';

/** Everything about a call the flow and its actions need, as kept in the KV bucket. */
const CallRecordSchema = z.object({
  callRef: z.string(),
  callId: z.string(),
  signalingInstance: z.string(),
  mediaInstance: z.string(),
  codec: z.string(),
  params: AppParamsSchema,
  finalReply: z.object({ code: z.number(), reason: z.string() }).optional(),
  greeting: PlayableSchema,
  /** A recording was stopped but not yet handed over: repeated (idempotently) until it is. */
  pendingHandOver: z.boolean().default(false),
  state: z.object({
    phase: z.enum(['greeting', 'beep', 'recording', 'goodbye', 'done']),
    mode: z.enum(['voicemail', 'box', 'both', 'ann']),
    playbackId: z.string(),
    playbacks: z.number(),
  }),
});
type CallRecord = z.infer<typeof CallRecordSchema>;

export interface CallRunnerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  config: CallConfig;
  log: Logger;
}

export async function startCallRunner(options: CallRunnerOptions): Promise<{ stop(): Promise<void> }> {
  const { nc, log } = options;
  await ensureStreams(options.jsm, ['voicemailCallEnds', 'deposits']);
  const calls = await openKv(nc, CALLS_BUCKET, { ttl: CALL_TTL_MS });
  const runner = new CallRunner(options, calls);
  const subscriptions = subscribeCallEvents(nc, {
    app: APP,
    queue: VOICEMAIL_QUEUE,
    log,
    handlers: {
      started: (e) => runner.started(e),
      digit: (e) => runner.apply(e.callRef, { kind: 'digit', digit: e.digit }),
      playbackFinished: (e) => runner.apply(e.callRef, { kind: 'playback-finished', playbackId: e.playbackId }),
      recordingFinished: (e) => runner.apply(e.callRef, { kind: 'recording-limit' }),
    },
  });
  // Hang-ups: durable, so the message is handed over whoever is alive.
  const ends = await startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.voicemailCallEnds.name,
    consumer: 'voicemail-call-ends',
    filterSubject: SUBJECTS.call.ended(APP),
    concurrency: 16,
    ackWaitMs: 90_000,
    log,
    handle: async (msg) => {
      const event = decodeJson(CallEndedEventSchema, msg.data, 'call ended');
      await runner.apply(event.callRef, { kind: 'ended' });
      return { kind: 'done' };
    },
  });
  await nc.flush();
  return {
    async stop() {
      await Promise.all(subscriptions.map((s) => s.drain()));
      await ends.stop();
    },
  };
}

class CallRunner {
  constructor(
    private readonly o: CallRunnerOptions,
    private readonly calls: KV,
  ) {}

  async started(event: CallStartedEvent): Promise<void> {
    const log = callLogger(this.o.log, event.callId).child({ callRef: event.callRef });
    const { params } = event;
    const mode = params.mode ?? 'voicemail';
    const language = params.language ?? 'en';
    const greeting = await this.greetingFor(event, mode, language, log);
    const settings = { greeting, language, earlyMedia: event.finalReply !== undefined && mode === 'ann' };
    const { state, actions } = startCall(mode, settings);
    const record: CallRecord = {
      callRef: event.callRef,
      callId: event.callId,
      signalingInstance: event.signalingInstance,
      mediaInstance: event.mediaInstance,
      codec: event.codec,
      params,
      ...(event.finalReply ? { finalReply: event.finalReply } : {}),
      greeting,
      pendingHandOver: false,
      state,
    };
    try {
      await this.calls.create(event.callRef, encodeJson(record));
    } catch {
      log.warn('call already started (duplicate event)');
      return;
    }
    log.debug({ mode, greeting: greeting.kind, mailbox: `${params.uid}@${params.did}` }, 'voicemail call started');
    await this.execute(record, actions, log);
  }

  /** Applies an event to the call's state (compare-and-set) and carries out what follows. */
  async apply(callRef: string, event: CallEvent): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await this.calls.get(callRef);
      if (!entry || entry.operation !== 'PUT') return; // not a voicemail call (any more)
      const record = CallRecordSchema.parse(entry.json());
      const log = callLogger(this.o.log, record.callId).child({ callRef });
      const settings = { greeting: record.greeting, language: record.params.language ?? 'en', earlyMedia: record.finalReply !== undefined && record.state.mode === 'ann' };
      const decided = onEvent(record.state as CallState, event, settings);
      const { state } = decided;
      let { actions } = decided;
      // A hand-over that failed before (this event is its retry) is done first, again.
      if (record.pendingHandOver && event.kind === 'ended' && !actions.some((a) => a.kind === 'finish-recording')) {
        actions = [{ kind: 'finish-recording' }, ...actions];
      }
      if (actions.length === 0 && state === record.state) {
        if (event.kind === 'ended') await this.calls.delete(callRef).catch(() => undefined);
        return;
      }
      const next: CallRecord = { ...record, state, pendingHandOver: record.pendingHandOver || actions.some((a) => a.kind === 'finish-recording') };
      let revision: number;
      try {
        revision = await this.calls.update(callRef, encodeJson(next), entry.revision);
      } catch {
        continue; // another instance changed it first: decide again on the new state
      }
      await this.execute(next, actions, log);
      if (next.pendingHandOver) {
        // Handed over (execute throws otherwise): clear the flag unless someone moved on meanwhile.
        await this.calls.update(callRef, encodeJson({ ...next, pendingHandOver: false }), revision).catch(() => undefined);
      }
      if (event.kind === 'ended') await this.calls.delete(callRef).catch(() => undefined);
      return;
    }
    this.o.log.error({ callRef, event: event.kind }, 'call state kept changing; event dropped');
  }

  /** The caller's personal greeting of the requested type, else the domain/platform default prompt. */
  private async greetingFor(event: CallStartedEvent, mode: string, language: string, log: Logger): Promise<Playable> {
    const mailbox = { did: event.params.did, uid: event.params.uid };
    const type = event.params.greetingType;
    try {
      await request(this.o.nc, StorageApi.getGreeting, { mailbox, type }, { callId: event.callId, timeoutMs: 2_000 });
      return { kind: 'greeting', mailbox, type };
    } catch (error) {
      if (!isServiceError(error, 'greeting-not-found')) log.warn({ err: toServiceError(error).message }, 'cannot look up the personal greeting; playing the default');
      return { kind: 'prompt', name: mode === 'ann' ? 'default_greeting_ann' : 'default_greeting', language, domain: event.params.did };
    }
  }

  private async execute(record: CallRecord, actions: Action[], log: Logger): Promise<void> {
    const opts = { callId: record.callId };
    for (const action of actions) {
      try {
        switch (action.kind) {
          case 'play':
            await request(this.o.nc, MediaApi.play(record.mediaInstance), { callRef: record.callRef, playbackId: action.playbackId, items: action.items, mode: 'replace' }, opts);
            break;
          case 'start-recording':
            await request(this.o.nc, MediaApi.startRecording(record.mediaInstance), { callRef: record.callRef, maxDurationMs: this.o.config.VM_MAX_MESSAGE_MS }, opts);
            break;
          case 'finish-recording':
            await this.handOver(record, log);
            break;
          case 'hangup':
            await request(this.o.nc, SignalingApi.hangup(record.signalingInstance), { callRef: record.callRef, reason: action.reason }, opts);
            break;
          case 'final-reply': {
            const reply = record.finalReply ?? { code: 480, reason: 'Temporarily Unavailable' };
            const { sent } = await request(this.o.nc, SignalingApi.finalReply(record.signalingInstance), { callRef: record.callRef, code: reply.code, reason: reply.reason }, opts);
            // Not in early media after all (the call was answered): end it the ordinary way.
            if (!sent) await request(this.o.nc, SignalingApi.hangup(record.signalingInstance), { callRef: record.callRef, reason: 'announcement played' }, opts);
            break;
          }
        }
      } catch (error) {
        if (action.kind === 'finish-recording') throw error; // the message is at stake: let the caller retry
        log.error({ action: action.kind, err: toServiceError(error).message }, 'call action failed');
      }
    }
  }

  /** Stops the recording and hands the message over; throws (to be retried) when it cannot. */
  private async handOver(record: CallRecord, log: Logger): Promise<void> {
    const req = { callRef: record.callRef, discard: false };
    let result;
    try {
      result = await request(this.o.nc, MediaApi.stopRecording(record.mediaInstance), req, { callId: record.callId });
    } catch (error) {
      if (!isServiceError(error, 'service-unavailable')) throw error;
      // The media instance is gone; another beside the same rtpengine can deliver it.
      result = await request(this.o.nc, MediaApi.stopRecordingAnywhere, req, { callId: record.callId });
    }
    const recording = result.recording;
    if (!recording) {
      log.info('nothing was recorded');
      return;
    }
    const { params } = record;
    const mode = record.state.mode;
    if (mode === 'ann') return; // announcements record nothing
    await publishDeposit(this.o.js, {
      depositId: recording.audio.name,
      mode,
      user: params.user,
      domain: params.domain,
      uid: params.uid,
      did: params.did,
      ...(params.email !== undefined ? { email: params.email } : {}),
      ...(params.language !== undefined ? { language: params.language } : {}),
      sender: params.sender,
      recordedAt: recording.startedAt,
      durationMs: recording.durationMs,
      codec: recording.codec,
      audio: recording.audio,
      extra: params.extra,
    });
    log.debug({ depositId: recording.audio.name, durationMs: recording.durationMs }, 'message handed over');
  }
}
