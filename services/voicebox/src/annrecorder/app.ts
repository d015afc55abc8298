/**
 * The annrecorder application on the call runtime (service kit): what a call's record holds, how
 * a call starts (the current greeting to describe), and its actions (actions/, one file each). Its
 * inactivity timers go to VM_VOICEBOX_TIMERS under a subject of its own, with a consumer of its own.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  isServiceError,
  PlayableSchema,
  request,
  StorageApi,
  SUBJECTS,
  toServiceError,
  type CallStartedEvent,
  type Mailbox,
  type Playable,
  type StagingBucket,
} from '@sipvm/contracts';
import type { CallAction, CallApplication, Step } from '@sipvm/service';
import type { VoiceboxConfig } from '../config.js';
import { CALLS_BUCKET, commonOf, CommonShape, voiceOf, VOICEBOX_QUEUE, type Common } from '../call/record.js';
import { discardStaged } from '../call/discard-staged.js';
import { prompt } from '../voicebox/speech.js';
import {
  AnnrecorderStateSchema,
  onAnnrecorderEvent,
  startAnnrecorder,
  type AnnrecorderAction,
  type AnnrecorderEvent,
  type AnnrecorderSettings,
} from './flow.js';
import { deleteGreeting, keepGreeting } from './actions/greetings.js';

export const AnnrecorderCallSchema = z.object({
  app: z.literal('annrecorder'),
  ...CommonShape,
  greetingType: z.string(),
  state: AnnrecorderStateSchema,
});
export type AnnrecorderCall = z.infer<typeof AnnrecorderCallSchema>;

export interface AnnrecorderApplicationOptions {
  nc: NatsConnection;
  staging: StagingBucket;
  config: VoiceboxConfig;
}

export function annrecorderApplication(options: AnnrecorderApplicationOptions): CallApplication<AnnrecorderCall, AnnrecorderAction, AnnrecorderEvent> {
  const { nc, config } = options;
  const settings = (call: Pick<Common, 'language' | 'mailbox'> & { greetingType: string }): AnnrecorderSettings => ({
    voice: voiceOf(call),
    greetingType: call.greetingType,
    inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS,
    maxGreetingMs: config.ANNRECORDER_MAX_GREETING_MS,
    minGreetingMs: config.ANNRECORDER_MIN_GREETING_MS,
    maxTemporaryDays: config.ANNRECORDER_TEMPORARY_MAX_DAYS,
  });
  return {
    name: 'annrecorder',
    apps: ['annrecorder'],
    queue: VOICEBOX_QUEUE,
    bucket: CALLS_BUCKET,
    record: AnnrecorderCallSchema,
    timers: { stream: 'voiceboxTimers', subject: SUBJECTS.voicebox.annrecorderTimer, consumer: 'annrecorder-timers' },

    async start(event: CallStartedEvent, log: Logger): Promise<Step<AnnrecorderCall, AnnrecorderAction | CallAction> | undefined> {
      if (event.app !== 'annrecorder') return undefined;
      const common = commonOf(event);
      const greetingType = event.params.greetingType;
      const current = await currentGreeting(nc, common.mailbox, greetingType, common.language, event.callId, log);
      const step = startAnnrecorder(current, settings({ ...common, greetingType }));
      log.info({ app: event.app, mailbox: `${common.mailbox.uid}@${common.mailbox.did}`, type: greetingType }, 'call started');
      return { record: { app: 'annrecorder', ...common, greetingType, state: step.state }, actions: step.actions };
    },

    decide(call: AnnrecorderCall, event: AnnrecorderEvent): Step<AnnrecorderCall, AnnrecorderAction | CallAction> {
      const step = onAnnrecorderEvent(call.state, event, settings(call));
      return { record: step.state === call.state ? call : { ...call, state: step.state }, actions: step.actions };
    },

    actions: {
      'keep-greeting': keepGreeting(nc),
      'delete-greeting': deleteGreeting(nc),
      'discard-staged': discardStaged(options.staging),
    },
  };
}

/** The personal greeting of the type, else the default callers hear (the default chain is media's). */
async function currentGreeting(
  nc: NatsConnection,
  mailbox: Mailbox,
  type: string,
  language: string,
  callId: string,
  log: Logger,
): Promise<{ personal: boolean; greeting: Playable }> {
  try {
    await request(nc, StorageApi.getGreeting, { mailbox, type }, { callId, timeoutMs: 2_000 });
    return { personal: true, greeting: PlayableSchema.parse({ kind: 'greeting', mailbox, type }) };
  } catch (error) {
    if (!isServiceError(error, 'greeting-not-found'))
      log.warn({ err: toServiceError(error).message }, 'cannot look up the personal greeting; describing the default');
    return { personal: false, greeting: prompt({ language, domain: mailbox.did }, 'default_greeting') };
  }
}
