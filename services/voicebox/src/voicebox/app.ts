/**
 * The voicebox application on the call runtime (service kit): what a call's record holds, how a
 * call starts, and the actions that are its own (actions/, one file each). Its inactivity timers
 * are JetStream messages on VM_VOICEBOX_TIMERS, so a menu that waits for a key times out on
 * whichever instance is alive. The record holds one page of the mailbox (pages.ts), so it stays a
 * few kilobytes however many messages the mailbox has.
 * Sequence: docs/flows/voicebox-session.md
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { PinVerifierSchema, SUBJECTS, type CallStartedEvent, type StagingBucket } from '@sipvm/contracts';
import type { CallAction, CallApplication, Domains, Step } from '@sipvm/service';
import type { VoiceboxConfig } from '../config.js';
import { CALLS_BUCKET, commonOf, CommonShape, voiceOf, VOICEBOX_QUEUE, type Common } from '../call/record.js';
import { discardStaged } from '../call/discard-staged.js';
import { onVoiceboxEvent, startVoicebox, VoiceboxStateSchema, type VoiceboxSettings } from './flow.js';
import type { PinLockout } from './pin.js';
import type { VoiceboxAction, VoiceboxEvent } from './events.js';
import { checkPin } from './actions/check-pin.js';
import { deleteMessage } from './actions/delete-message.js';
import { forwardMessage } from './actions/forward-message.js';
import { loadMailbox } from './actions/load-mailbox.js';
import { loadPage } from './actions/load-page.js';
import { markRead } from './actions/mark-read.js';

/** Everything about a voicebox call its flow and its actions need, as kept in the KV bucket. */
export const VoiceboxCallSchema = z.object({
  app: z.literal('voicebox'),
  ...CommonShape,
  /** The PIN's verifier as signaling sealed it; the PIN itself is never here. */
  pin: PinVerifierSchema.optional(),
  state: VoiceboxStateSchema,
});
export type VoiceboxCall = z.infer<typeof VoiceboxCallSchema>;

export interface VoiceboxApplicationOptions {
  nc: NatsConnection;
  staging: StagingBucket;
  config: VoiceboxConfig;
  domains: Domains;
  lockout: PinLockout;
  registry: Registry;
}

export function voiceboxApplication(options: VoiceboxApplicationOptions): CallApplication<VoiceboxCall, VoiceboxAction, VoiceboxEvent> {
  const { nc, config, lockout } = options;
  const pinFailures = new Counter({
    name: 'sipvm_voicebox_pin_failures_total',
    help: 'Wrong PINs, and PINs refused because the mailbox was locked',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const settings = (call: Pick<Common, 'language' | 'mailbox'>): VoiceboxSettings => ({
    mailbox: call.mailbox,
    voice: voiceOf(call),
    keys: config.VOICEBOX_KEYS,
    inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS,
    pinTries: config.VOICEBOX_PIN_TRIES,
    envelope: config.VOICEBOX_ENVELOPE,
    timeZone: config.VOICEBOX_TIME_ZONE,
    introductionMaxMs: config.VOICEBOX_INTRODUCTION_MAX_MS,
  });

  return {
    name: 'voicebox',
    apps: ['voicebox'],
    queue: VOICEBOX_QUEUE,
    bucket: CALLS_BUCKET,
    record: VoiceboxCallSchema,
    timers: { stream: 'voiceboxTimers', subject: SUBJECTS.voicebox.timer, consumer: 'voicebox-timers' },

    async start(event: CallStartedEvent, log: Logger): Promise<Step<VoiceboxCall, VoiceboxAction | CallAction> | undefined> {
      if (event.app !== 'voicebox') return undefined;
      const common = commonOf(event);
      const { pin } = event.params;
      const locked = pin !== undefined && (await lockout.isLocked(common.mailbox).catch(() => false));
      if (locked) log.warn({ mailbox: common.mailbox }, 'voicebox locked after repeated wrong PINs; call refused');
      const step = startVoicebox({ pinRequired: pin !== undefined, locked }, settings(common));
      log.info({ app: event.app, mailbox: `${common.mailbox.uid}@${common.mailbox.did}`, pin: pin !== undefined }, 'call started');
      return { record: { app: 'voicebox', ...common, ...(pin ? { pin } : {}), state: step.state }, actions: step.actions };
    },

    decide(call: VoiceboxCall, event: VoiceboxEvent): Step<VoiceboxCall, VoiceboxAction | CallAction> {
      const step = onVoiceboxEvent(call.state, event, settings(call));
      return { record: step.state === call.state ? call : { ...call, state: step.state }, actions: step.actions };
    },

    actions: {
      'load-mailbox': loadMailbox(nc, config.VOICEBOX_ORDER),
      'load-page': loadPage(nc, config.VOICEBOX_ORDER),
      'check-pin': checkPin(lockout, pinFailures),
      'mark-read': markRead(nc),
      'delete-message': deleteMessage(nc),
      'forward-message': forwardMessage(nc, { domains: options.domains, maxMessages: config.VM_MAX_MESSAGES }),
      'discard-staged': discardStaged(options.staging),
    },
  };
}
