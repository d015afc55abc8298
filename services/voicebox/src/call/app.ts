/**
 * The voicebox and annrecorder applications on the call runtime (service kit): what a call's record
 * holds, how each call starts, and the actions that are theirs alone — the mailbox listing, the PIN
 * check, marking, deleting, greetings. Their inactivity timers are JetStream messages on the stream
 * VM_VOICEBOX_TIMERS, so a menu that waits for a key times out on whichever instance is alive.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import {
  BUCKETS,
  discardStagedAudio,
  isServiceError,
  MailboxSchema,
  pinMatches,
  PinVerifierSchema,
  PlayableSchema,
  request,
  StorageApi,
  SUBJECTS,
  toServiceError,
  type CallStartedEvent,
  type Mailbox,
  type MessageInfo,
  type Playable,
  type StagingBucket,
} from '@sipvm/contracts';
import { CallBaseShape, type ActionContext, type CallApplication, type Step } from '@sipvm/service';
import type { VoiceboxConfig } from '../config.js';
import { onVoiceboxEvent, playOrder, startVoicebox, VoiceboxStateSchema, type VoiceboxSettings } from '../voicebox/flow.js';
import { AnnrecorderStateSchema, onAnnrecorderEvent, startAnnrecorder, type AnnrecorderSettings } from '../annrecorder/flow.js';
import { PinLockout } from '../voicebox/pin.js';
import { prompt, type Voice } from '../voicebox/speech.js';
import type { Action, CallEvent, VoiceboxAction } from './turn.js';

export const CALLS_BUCKET = BUCKETS.voiceboxCalls;
export const VOICEBOX_QUEUE = 'voicebox';

const CommonShape = {
  ...CallBaseShape,
  mailbox: MailboxSchema,
  language: z.string(),
};

/** Everything about a call the flows and their actions need, as kept in the KV bucket. */
export const VoiceboxCallSchema = z.discriminatedUnion('app', [
  z.object({
    app: z.literal('voicebox'),
    ...CommonShape,
    /** The PIN's verifier as signaling sealed it; the PIN itself is never here. */
    pin: PinVerifierSchema.optional(),
    state: VoiceboxStateSchema,
  }),
  z.object({
    app: z.literal('annrecorder'),
    ...CommonShape,
    greetingType: z.string(),
    state: AnnrecorderStateSchema,
  }),
]);
export type VoiceboxCall = z.infer<typeof VoiceboxCallSchema>;

export interface VoiceboxApplicationOptions {
  nc: NatsConnection;
  staging: StagingBucket;
  config: VoiceboxConfig;
  lockout: PinLockout;
  registry: Registry;
}

export function voiceboxApplication(options: VoiceboxApplicationOptions): CallApplication<VoiceboxCall, VoiceboxAction, CallEvent> {
  const { nc, config, lockout } = options;
  const pinFailures = new Counter({
    name: 'sipvm_voicebox_pin_failures_total',
    help: 'Wrong PINs, and PINs refused because the mailbox was locked',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const voice = (call: Pick<VoiceboxCall, 'language' | 'mailbox'>): Voice => ({ language: call.language, domain: call.mailbox.did });
  const voiceboxSettings = (call: Pick<VoiceboxCall, 'language' | 'mailbox'>): VoiceboxSettings => ({
    mailbox: call.mailbox,
    voice: voice(call),
    keys: config.VOICEBOX_KEYS,
    inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS,
    pinTries: config.VOICEBOX_PIN_TRIES,
    envelope: config.VOICEBOX_ENVELOPE,
    timeZone: config.VOICEBOX_TIME_ZONE,
  });
  const annrecorderSettings = (call: Pick<VoiceboxCall, 'language' | 'mailbox'>): AnnrecorderSettings => ({
    voice: voice(call),
    inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS,
    maxGreetingMs: config.ANNRECORDER_MAX_GREETING_MS,
    minGreetingMs: config.ANNRECORDER_MIN_GREETING_MS,
  });

  const checkPin = async (call: VoiceboxCall, entered: string, log: Logger): Promise<'right' | 'wrong' | 'locked'> => {
    if (call.app !== 'voicebox' || !call.pin) return 'right';
    if (await lockout.isLocked(call.mailbox)) {
      pinFailures.inc({ outcome: 'locked' });
      return 'locked';
    }
    if (await pinMatches(entered, call.pin)) {
      await lockout.succeeded(call.mailbox);
      return 'right';
    }
    pinFailures.inc({ outcome: 'wrong' });
    const locked = await lockout.failed(call.mailbox);
    log.warn({ mailbox: `${call.mailbox.uid}@${call.mailbox.did}`, locked }, locked ? 'wrong PIN; mailbox locked' : 'wrong PIN');
    return 'wrong';
  };

  return {
    name: 'voicebox',
    apps: ['voicebox', 'annrecorder'],
    queue: VOICEBOX_QUEUE,
    bucket: CALLS_BUCKET,
    record: VoiceboxCallSchema,
    timers: { stream: 'voiceboxTimers', subject: SUBJECTS.voicebox.timer, consumer: 'voicebox-timers' },

    async start(event: CallStartedEvent, log: Logger): Promise<Step<VoiceboxCall, Action> | undefined> {
      if (event.app !== 'voicebox' && event.app !== 'annrecorder') return undefined;
      const { params } = event;
      const mailbox: Mailbox = { did: params.did, uid: params.uid };
      const common = {
        callRef: event.callRef,
        callId: event.callId,
        signalingInstance: event.signalingInstance,
        mediaInstance: event.mediaInstance,
        mediaNode: event.mediaNode,
        mailbox,
        // Signaling puts its DEFAULT_LANGUAGE here when P-App-Param has no lng.
        language: params.language ?? 'en',
      };
      if (event.app === 'voicebox') {
        const pin = params.pin;
        const locked = pin !== undefined && (await lockout.isLocked(mailbox).catch(() => false));
        if (locked) log.warn({ mailbox }, 'voicebox locked after repeated wrong PINs; call refused');
        const step = startVoicebox({ pinRequired: pin !== undefined, locked }, voiceboxSettings(common));
        log.info({ app: event.app, mailbox: `${mailbox.uid}@${mailbox.did}`, pin: pin !== undefined }, 'call started');
        return { record: { app: 'voicebox', ...common, ...(pin ? { pin } : {}), state: step.state }, actions: step.actions };
      }
      const current = await currentGreeting(nc, mailbox, params.greetingType, common.language, event.callId, log);
      const step = startAnnrecorder(current, annrecorderSettings(common));
      log.info({ app: event.app, mailbox: `${mailbox.uid}@${mailbox.did}` }, 'call started');
      return { record: { app: 'annrecorder', ...common, greetingType: params.greetingType, state: step.state }, actions: step.actions };
    },

    decide(call: VoiceboxCall, event: CallEvent): Step<VoiceboxCall, Action> {
      if (call.app === 'voicebox') {
        const step = onVoiceboxEvent(call.state, event, voiceboxSettings(call));
        return { record: step.state === call.state ? call : { ...call, state: step.state }, actions: step.actions };
      }
      const step = onAnnrecorderEvent(call.state, event, annrecorderSettings(call));
      return { record: step.state === call.state ? call : { ...call, state: step.state }, actions: step.actions };
    },

    async perform(action: VoiceboxAction, call: VoiceboxCall, context: ActionContext): Promise<CallEvent[]> {
      const opts = { callId: call.callId };
      switch (action.kind) {
        case 'load-mailbox':
          return [{ kind: 'mailbox-loaded', messages: playOrder(await listMailbox(nc, call.mailbox, call.callId), config.VOICEBOX_ORDER) }];
        case 'check-pin':
          return [{ kind: 'pin-checked', outcome: await checkPin(call, action.entered, context.log) }];
        case 'mark-read':
          await request(nc, StorageApi.markMessage, { mailbox: call.mailbox, id: action.id, read: true }, opts);
          return [];
        case 'delete-message':
          try {
            await request(nc, StorageApi.deleteMessage, { mailbox: call.mailbox, id: action.id }, opts);
          } catch (error) {
            // A message already gone is what the caller wanted.
            if (!isServiceError(error, 'message-not-found')) throw error;
          }
          context.log.info({ messageId: action.id }, 'message deleted');
          return [];
        case 'keep-greeting':
          if (call.app !== 'annrecorder') return [];
          await request(nc, StorageApi.putGreeting, { mailbox: call.mailbox, type: call.greetingType, audio: action.audio }, opts);
          context.log.info({ type: call.greetingType }, 'greeting kept');
          return [];
        case 'delete-greeting':
          if (call.app !== 'annrecorder') return [];
          await request(nc, StorageApi.deleteGreeting, { mailbox: call.mailbox, type: call.greetingType }, opts);
          context.log.info({ type: call.greetingType }, 'greeting deleted; callers hear the default');
          return [];
        case 'discard-staged':
          await discardStagedAudio(options.staging, action.audio).catch(() => undefined);
          return [];
      }
    },
  };
}

async function listMailbox(nc: NatsConnection, mailbox: Mailbox, callId: string): Promise<MessageInfo[]> {
  const messages: MessageInfo[] = [];
  for (let offset = 0; ; ) {
    const page = await request(nc, StorageApi.listMailbox, { mailbox, offset }, { callId });
    messages.push(...page.messages);
    offset += page.messages.length;
    if (page.messages.length === 0 || offset >= page.total) return messages;
  }
}

/** The personal greeting of the type, else the default callers hear (the default chain is media's). */
async function currentGreeting(nc: NatsConnection, mailbox: Mailbox, type: string, language: string, callId: string, log: Logger): Promise<{ personal: boolean; greeting: Playable }> {
  try {
    await request(nc, StorageApi.getGreeting, { mailbox, type }, { callId, timeoutMs: 2_000 });
    return { personal: true, greeting: PlayableSchema.parse({ kind: 'greeting', mailbox, type }) };
  } catch (error) {
    if (!isServiceError(error, 'greeting-not-found')) log.warn({ err: toServiceError(error).message }, 'cannot look up the personal greeting; describing the default');
    return { personal: false, greeting: prompt({ language, domain: mailbox.did }, 'default_greeting') };
  }
}
