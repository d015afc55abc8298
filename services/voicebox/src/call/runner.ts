/**
 * Runs voicebox and annrecorder calls: feeds the pure flows the calls' events and carries out
 * what they decide, through media, signaling and storage.
 *
 * Stateless instances (DESIGN): a call's state lives in a KV bucket and every change is a
 * compare-and-set, so any instance may take any event of any call (queue group) and an instance
 * that dies mid-menu is simply not asked again. Inactivity timers are JetStream messages that come
 * back until they are due (see contracts/voicebox.ts), so they too fire wherever someone is alive.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ObjectStore } from '@nats-io/obj';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import {
  armVoiceboxTimer,
  decodeJson,
  discardStagedAudio,
  encodeJson,
  ensureStreams,
  isServiceError,
  MailboxSchema,
  MediaApi,
  PlayableSchema,
  request,
  SignalingApi,
  StorageApi,
  STREAMS,
  SUBJECTS,
  toServiceError,
  VoiceboxTimerSchema,
  type CallStartedEvent,
  type Mailbox,
  type MessageInfo,
  type Playable,
  openKv,
} from '@sipvm/contracts';
import { callLogger, KeyedMutex, startDurableWorker, subscribeCallEvents, type Logger } from '@sipvm/service';
import type { VoiceboxConfig } from '../config.js';
import { onVoiceboxEvent, playOrder, startVoicebox, VoiceboxStateSchema, type VoiceboxSettings } from '../voicebox/flow.js';
import { AnnrecorderStateSchema, onAnnrecorderEvent, startAnnrecorder, type AnnrecorderSettings } from '../annrecorder/flow.js';
import { pinMatches, PinLockout, sealPin } from '../voicebox/pin.js';
import { prompt, type Voice } from '../voicebox/speech.js';
import type { Action, CallEvent } from './turn.js';

export const CALLS_BUCKET = 'vm-voicebox-calls';
export const VOICEBOX_QUEUE = 'voicebox';
const APPS = ['voicebox', 'annrecorder'] as const;
const CALL_TTL_MS = 4 * 3600 * 1000;

const CommonShape = {
  callRef: z.string(),
  callId: z.string(),
  signalingInstance: z.string(),
  mediaInstance: z.string(),
  mailbox: MailboxSchema,
  language: z.string(),
};

/** Everything about a call the flows and their actions need, as kept in the KV bucket. */
const CallRecordSchema = z.discriminatedUnion('app', [
  z.object({
    app: z.literal('voicebox'),
    ...CommonShape,
    pin: z.object({ salt: z.string(), hash: z.string() }).optional(),
    state: VoiceboxStateSchema,
  }),
  z.object({
    app: z.literal('annrecorder'),
    ...CommonShape,
    greetingType: z.string(),
    state: AnnrecorderStateSchema,
  }),
]);
type CallRecord = z.infer<typeof CallRecordSchema>;

export interface CallRunnerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  staging: ObjectStore;
  config: VoiceboxConfig;
  log: Logger;
  registry: Registry;
}

export async function startCallRunner(options: CallRunnerOptions): Promise<{ stop(): Promise<void> }> {
  const { nc, log } = options;
  await ensureStreams(options.jsm, ['voiceboxTimers']);
  const calls = await openKv(nc, CALLS_BUCKET, { ttl: CALL_TTL_MS });
  const lockout = await PinLockout.open(nc, { lockAfter: options.config.VOICEBOX_LOCK_AFTER, lockMs: options.config.VOICEBOX_LOCK_MS });
  const runner = new CallRunner(options, calls, lockout);
  // Events of one call are handled one after the other here (digits keep their order).
  const perCall = new KeyedMutex();
  const subscriptions = APPS.flatMap((app) =>
    subscribeCallEvents(nc, {
      app,
      queue: VOICEBOX_QUEUE,
      log,
      perCall,
      handlers: {
        started: (e) => runner.started(e),
        digit: (e) => runner.apply(e.callRef, { kind: 'digit', digit: e.digit }),
        playbackFinished: (e) => runner.apply(e.callRef, { kind: 'playback-finished', playbackId: e.playbackId }),
        recordingFinished: (e) => runner.apply(e.callRef, { kind: 'recording-limit' }),
        ended: (e) => runner.apply(e.callRef, { kind: 'ended' }),
      },
    }),
  );
  const timers = await startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.voiceboxTimers.name,
    consumer: 'voicebox-timers',
    filterSubject: SUBJECTS.voicebox.timer,
    concurrency: 64,
    ackWaitMs: 30_000,
    log,
    handle: async (msg) => {
      const timer = decodeJson(VoiceboxTimerSchema, msg.data, 'timer');
      const remaining = timer.dueAt - Date.now();
      if (remaining > 0) return { kind: 'retry', delayMs: remaining };
      await perCall.run(timer.callRef, () => runner.apply(timer.callRef, { kind: 'timeout', timerId: timer.timerId }));
      return { kind: 'done' };
    },
  });
  await nc.flush();
  return {
    async stop() {
      await Promise.all(subscriptions.map((s) => s.drain()));
      await timers.stop();
    },
  };
}

class CallRunner {
  private readonly callsStarted: Counter;
  private readonly pinFailures: Counter;

  constructor(
    private readonly o: CallRunnerOptions,
    private readonly calls: KV,
    private readonly lockout: PinLockout,
  ) {
    this.callsStarted = new Counter({ name: 'sipvm_voicebox_calls_total', help: 'Calls taken, by application', labelNames: ['app'], registers: [o.registry] });
    this.pinFailures = new Counter({
      name: 'sipvm_voicebox_pin_failures_total',
      help: 'Wrong PINs, and PINs refused because the mailbox was locked',
      labelNames: ['outcome'],
      registers: [o.registry],
    });
  }

  async started(event: CallStartedEvent): Promise<void> {
    const log = callLogger(this.o.log, event.callId).child({ callRef: event.callRef });
    if (event.app !== 'voicebox' && event.app !== 'annrecorder') return;
    const { params } = event;
    const mailbox: Mailbox = { did: params.did, uid: params.uid };
    const common = {
      callRef: event.callRef,
      callId: event.callId,
      signalingInstance: event.signalingInstance,
      mediaInstance: event.mediaInstance,
      mailbox,
      // Signaling puts its DEFAULT_LANGUAGE here when P-App-Param has no lng.
      language: params.language ?? 'en',
    };
    let record: CallRecord;
    let actions: Action[];
    if (event.app === 'voicebox') {
      const pin = params.pin !== undefined ? sealPin(params.pin) : undefined;
      const locked = pin !== undefined && (await this.lockout.isLocked(mailbox).catch(() => false));
      const base = { app: 'voicebox' as const, ...common, ...(pin ? { pin } : {}) };
      const step = startVoicebox({ pinRequired: pin !== undefined, locked }, this.voiceboxSettings(common));
      record = { ...base, state: step.state };
      actions = step.actions;
      if (locked) log.warn({ mailbox }, 'voicebox locked after repeated wrong PINs; call refused');
    } else {
      const base = { app: 'annrecorder' as const, ...common, greetingType: params.greetingType };
      const current = await this.currentGreeting(mailbox, params.greetingType, base.language, event.callId, log);
      const step = startAnnrecorder(current, this.annrecorderSettings(base));
      record = { ...base, state: step.state };
      actions = step.actions;
    }
    try {
      await this.calls.create(event.callRef, encodeJson(record));
    } catch {
      log.warn('call already started (duplicate event)');
      return;
    }
    this.callsStarted.inc({ app: event.app });
    log.info({ app: event.app, mailbox: `${mailbox.uid}@${mailbox.did}`, pin: record.app === 'voicebox' && record.pin !== undefined }, 'call started');
    await this.execute(record, actions, log);
  }

  /** Applies an event to the call's state (compare-and-set) and carries out what follows. */
  async apply(callRef: string, event: CallEvent): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await this.calls.get(callRef);
      if (!entry || entry.operation !== 'PUT') return; // not (or no longer) a call of ours
      const record = CallRecordSchema.parse(entry.json());
      const log = callLogger(this.o.log, record.callId).child({ callRef });
      const { next, actions } = this.decide(record, event);
      if (actions.length === 0 && next.state === record.state) {
        if (event.kind === 'ended') await this.calls.delete(callRef).catch(() => undefined);
        return;
      }
      try {
        await this.calls.update(callRef, encodeJson(next), entry.revision);
      } catch {
        continue; // another instance changed it first: decide again on the new state
      }
      if (event.kind === 'ended') await this.calls.delete(callRef).catch(() => undefined);
      await this.execute(next, actions, log);
      return;
    }
    this.o.log.error({ callRef, event: event.kind }, 'call state kept changing; event dropped');
  }

  private decide(record: CallRecord, event: CallEvent): { next: CallRecord; actions: Action[] } {
    if (record.app === 'voicebox') {
      const step = onVoiceboxEvent(record.state, event, this.voiceboxSettings(record));
      return { next: { ...record, state: step.state }, actions: step.actions };
    }
    const step = onAnnrecorderEvent(record.state, event, this.annrecorderSettings(record));
    return { next: { ...record, state: step.state }, actions: step.actions };
  }

  private voice(record: Pick<CallRecord, 'language' | 'mailbox'>): Voice {
    return { language: record.language, domain: record.mailbox.did };
  }

  private voiceboxSettings(record: Pick<CallRecord, 'language' | 'mailbox'>): VoiceboxSettings {
    const c = this.o.config;
    return {
      mailbox: record.mailbox,
      voice: this.voice(record),
      keys: c.VOICEBOX_KEYS,
      inputTimeoutMs: c.VOICEBOX_INPUT_TIMEOUT_MS,
      pinTries: c.VOICEBOX_PIN_TRIES,
      envelope: c.VOICEBOX_ENVELOPE,
      timeZone: c.VOICEBOX_TIME_ZONE,
    };
  }

  private annrecorderSettings(record: Pick<CallRecord, 'language' | 'mailbox'>): AnnrecorderSettings {
    const c = this.o.config;
    return { voice: this.voice(record), inputTimeoutMs: c.VOICEBOX_INPUT_TIMEOUT_MS, maxGreetingMs: c.ANNRECORDER_MAX_GREETING_MS, minGreetingMs: c.ANNRECORDER_MIN_GREETING_MS };
  }

  /** The personal greeting of the type, else the default callers hear (SPEC §2's chain, in media). */
  private async currentGreeting(mailbox: Mailbox, type: string, language: string, callId: string, log: Logger): Promise<{ personal: boolean; greeting: Playable }> {
    try {
      await request(this.o.nc, StorageApi.getGreeting, { mailbox, type }, { callId, timeoutMs: 2_000 });
      return { personal: true, greeting: PlayableSchema.parse({ kind: 'greeting', mailbox, type }) };
    } catch (error) {
      if (!isServiceError(error, 'greeting-not-found')) log.warn({ err: toServiceError(error).message }, 'cannot look up the personal greeting; describing the default');
      return { personal: false, greeting: prompt({ language, domain: mailbox.did }, 'default_greeting') };
    }
  }

  /**
   * Carries the actions out in order. Those with a result feed it back as an event afterwards;
   * a failed one (storage, media) skips the rest (they assumed it worked) and reports `failed`.
   */
  private async execute(record: CallRecord, actions: Action[], log: Logger): Promise<void> {
    const results: CallEvent[] = [];
    const opts = { callId: record.callId };
    const { nc } = this.o;
    const media = record.mediaInstance;
    for (const action of actions) {
      try {
        switch (action.kind) {
          case 'play':
            await request(nc, MediaApi.play(media), { callRef: record.callRef, playbackId: action.playbackId, items: action.items, mode: 'replace' }, opts);
            break;
          case 'stop-playback':
            await request(nc, MediaApi.stopPlayback(media), { callRef: record.callRef }, opts);
            break;
          case 'arm-timer':
            await armVoiceboxTimer(this.o.js, { callRef: record.callRef, timerId: action.timerId, dueAt: Date.now() + action.ms });
            break;
          case 'hangup':
            await request(nc, SignalingApi.hangup(record.signalingInstance), { callRef: record.callRef, reason: action.reason }, opts);
            break;
          case 'start-recording':
            await request(nc, MediaApi.startRecording(media), { callRef: record.callRef, maxDurationMs: action.maxMs }, opts);
            break;
          case 'stop-recording': {
            const { recording } = await request(nc, MediaApi.stopRecording(media), { callRef: record.callRef, discard: action.discard }, opts);
            if (!action.discard) results.push({ kind: 'recorded', recording: recording ? { audio: recording.audio, durationMs: recording.durationMs } : null });
            break;
          }
          case 'load-mailbox':
            results.push({ kind: 'mailbox-loaded', messages: playOrder(await this.listMailbox(record.mailbox, record.callId), this.o.config.VOICEBOX_ORDER) });
            break;
          case 'check-pin':
            results.push({ kind: 'pin-checked', outcome: await this.checkPin(record, action.entered, log) });
            break;
          case 'mark-read':
            await request(nc, StorageApi.markMessage, { mailbox: record.mailbox, id: action.id, read: true }, opts);
            break;
          case 'delete-message':
            await request(nc, StorageApi.deleteMessage, { mailbox: record.mailbox, id: action.id }, opts);
            log.info({ messageId: action.id }, 'message deleted');
            break;
          case 'keep-greeting':
            if (record.app !== 'annrecorder') break;
            await request(nc, StorageApi.putGreeting, { mailbox: record.mailbox, type: record.greetingType, audio: action.audio }, opts);
            log.info({ type: record.greetingType }, 'greeting kept');
            break;
          case 'delete-greeting':
            if (record.app !== 'annrecorder') break;
            await request(nc, StorageApi.deleteGreeting, { mailbox: record.mailbox, type: record.greetingType }, opts);
            log.info({ type: record.greetingType }, 'greeting deleted; callers hear the default');
            break;
          case 'discard-staged':
            await discardStagedAudio(this.o.staging, action.audio).catch(() => undefined);
            break;
        }
      } catch (error) {
        const message = toServiceError(error).message;
        if (action.kind === 'hangup' || (action.kind === 'stop-recording' && action.discard)) {
          log.warn({ action: action.kind, err: message }, 'call action failed');
          continue;
        }
        // A message already gone is what the caller wanted when deleting; anything else is a problem.
        if (isServiceError(error, 'message-not-found') && action.kind === 'delete-message') continue;
        log.error({ action: action.kind, err: message }, 'call action failed; the caller is told');
        results.push({ kind: 'failed', action: action.kind });
        break;
      }
    }
    for (const event of results) await this.apply(record.callRef, event);
  }

  private async listMailbox(mailbox: Mailbox, callId: string): Promise<MessageInfo[]> {
    const messages: MessageInfo[] = [];
    for (let offset = 0; ; ) {
      const page = await request(this.o.nc, StorageApi.listMailbox, { mailbox, offset }, { callId });
      messages.push(...page.messages);
      offset += page.messages.length;
      if (page.messages.length === 0 || offset >= page.total) return messages;
    }
  }

  private async checkPin(record: CallRecord, entered: string, log: Logger): Promise<'right' | 'wrong' | 'locked'> {
    if (record.app !== 'voicebox' || !record.pin) return 'right';
    if (await this.lockout.isLocked(record.mailbox)) {
      this.pinFailures.inc({ outcome: 'locked' });
      return 'locked';
    }
    if (pinMatches(entered, record.pin)) {
      await this.lockout.succeeded(record.mailbox);
      return 'right';
    }
    this.pinFailures.inc({ outcome: 'wrong' });
    const locked = await this.lockout.failed(record.mailbox);
    log.warn({ mailbox: `${record.mailbox.uid}@${record.mailbox.did}`, locked }, locked ? 'wrong PIN; mailbox locked' : 'wrong PIN');
    return 'wrong';
  }
}
