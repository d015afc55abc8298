/**
 * The voicemail application on the call runtime: what a call's record holds, how a call starts
 * (which greeting; whether the mailbox is full), and its one action of its own, the hand-over of
 * the recorded message (hand-over.ts).
 *
 * Hang-ups come from the JetStream stream VM_VOICEMAIL_CALL_ENDS, so the recording is handed over
 * by whichever instance is alive, and a hand-over that fails is retried until it works. The wait
 * for the urgent key is a timer on VM_VOICEMAIL_TIMERS, which fires wherever an instance is alive.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md
 */
import { z } from 'zod';
import {
  BUCKETS,
  AppParamsSchema,
  PlayableSchema,
  request,
  StorageApi,
  SUBJECTS,
  toServiceError,
  type CallStartedEvent,
  type Mailbox,
  type Playable,
  type VoicemailMode,
} from '@sipvm/contracts';
import { CallBaseShape, type CallApplication, type Domains, type Step } from '@sipvm/service';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { onEvent, startCall, VoicemailStateSchema, type Action, type Event, type FlowSettings, type HandOver } from './flow.js';
import type { CallConfig } from './config.js';
import type { Greetings } from './greetings.js';
import type { DepositProcessor } from '../deposit/processor.js';
import { handOver } from './hand-over.js';

export const CALLS_BUCKET = BUCKETS.voicemailCalls;
export const VOICEMAIL_QUEUE = 'voicemail';

/** Everything about a call the flow and its actions need, as kept in the KV bucket. */
export const VoicemailCallSchema = z.object({
  ...CallBaseShape,
  codec: z.string(),
  params: AppParamsSchema,
  /** Answered with early media: it ends with this final reply (contracts' CallStartedEvent). */
  earlyMedia: z.object({ finalReply: z.object({ code: z.number(), reason: z.string() }) }).optional(),
  greeting: PlayableSchema,
  /** Played right after the greeting: the system's phrase after the subscriber's recorded name. */
  greetingAfter: PlayableSchema.optional(),
  /** The mailbox's most messages when it has a limit, and when its owner is warned. */
  quota: z.object({ maxMessages: z.number().int().positive(), warnPercent: z.number().int() }).optional(),
  state: VoicemailStateSchema,
});
export type VoicemailCall = z.infer<typeof VoicemailCallSchema>;

export interface VoicemailApplicationOptions {
  nc: NatsConnection;
  config: CallConfig & { VM_SILENCE_THRESHOLD_DBFS: number };
  domains: Domains;
  greetings: Greetings;
  /** Makes a recording handed over a message (or queues it for retries). */
  deposits: Pick<DepositProcessor, 'hand'>;
}

export function voicemailApplication(options: VoicemailApplicationOptions): CallApplication<VoicemailCall, HandOver, Event> {
  const { config, domains } = options;
  const settingsOf = (call: Pick<VoicemailCall, 'greeting' | 'greetingAfter' | 'params' | 'earlyMedia'>, mode: VoicemailMode): FlowSettings => {
    // P-App-Param first (the proxy knows the mailbox), then the domain's configuration, then the platform's.
    const domain = domains.of(call.params.did);
    const silenceMs = call.params.maxSilenceS !== undefined ? call.params.maxSilenceS * 1000 : (domain.maxSilenceMs ?? config.VM_MAX_SILENCE_MS);
    const operator = call.params.operator ?? domain.operator ?? config.VM_OPERATOR_URI;
    return {
      greeting: call.greetingAfter ? [call.greeting, call.greetingAfter] : [call.greeting],
      language: call.params.language ?? 'en',
      ...(call.earlyMedia && mode === 'ann' ? { earlyMedia: call.earlyMedia } : {}),
      maxMessageMs: config.VM_MAX_MESSAGE_MS,
      // One idea of silence for the live watch and the deposit check (VM_SILENCE_THRESHOLD_DBFS).
      endOnSilence: silenceMs > 0 ? { silenceMs, thresholdDbfs: Math.max(-120, config.VM_SILENCE_THRESHOLD_DBFS) } : undefined,
      operator: operator
        ? { uri: operator, method: domain.operatorTransfer ?? config.VM_OPERATOR_TRANSFER, recording: domain.operatorRecording ?? config.VM_OPERATOR_RECORDING }
        : undefined,
      offerUrgent: domain.offerUrgent ?? config.VM_OFFER_URGENT,
      urgentWaitMs: config.VM_URGENT_WAIT_MS,
    };
  };
  /** The mailbox's most messages: P-App-Param `max`, else the domain's, else the platform's (0: no limit). */
  const quotaOf = (event: CallStartedEvent): VoicemailCall['quota'] => {
    const domain = domains.of(event.params.did);
    const maxMessages = event.params.maxMessages ?? domain.maxMessages ?? config.VM_MAX_MESSAGES;
    return maxMessages > 0 ? { maxMessages, warnPercent: domain.quotaWarnPercent ?? config.VM_QUOTA_WARN_PERCENT } : undefined;
  };
  return {
    name: 'voicemail',
    apps: ['voicemail'],
    queue: VOICEMAIL_QUEUE,
    bucket: CALLS_BUCKET,
    record: VoicemailCallSchema,
    durableEnds: { stream: 'voicemailCallEnds', consumer: 'voicemail-call-ends' },
    timers: { stream: 'voicemailTimers', subject: SUBJECTS.voicemail.timer, consumer: 'voicemail-timers' },

    async start(event: CallStartedEvent, log: Logger): Promise<Step<VoicemailCall, Action>> {
      const requested = event.params.mode ?? 'voicemail';
      const mailbox = { did: event.params.did, uid: event.params.uid };
      const quota = requested === 'box' || requested === 'both' ? quotaOf(event) : undefined;
      const [greeting, full] = await Promise.all([
        greetingFor(options.greetings, event, requested, log),
        quota ? isFull(options.nc, mailbox, quota.maxMessages, event.callId, log) : false,
      ]);
      // A full mailbox takes no message: mode both still mails it; mode box says so instead of the beep.
      const mode = full && requested === 'both' ? 'voicemail' : requested;
      const call = {
        callRef: event.callRef,
        callId: event.callId,
        signalingInstance: event.signalingInstance,
        mediaInstance: event.mediaInstance,
        mediaNode: event.mediaNode,
        codec: event.codec,
        params: event.params,
        ...(event.earlyMedia && event.finalReply ? { earlyMedia: { finalReply: event.finalReply } } : {}),
        greeting: greeting[0],
        ...(greeting[1] ? { greetingAfter: greeting[1] } : {}),
        ...(quota && mode !== 'voicemail' ? { quota } : {}),
      };
      const first = startCall(mode, settingsOf(call, mode), { full });
      if (full)
        log.info(
          { mailbox: `${mailbox.uid}@${mailbox.did}`, maxMessages: quota?.maxMessages, mode: requested },
          mode === 'box' ? 'mailbox full; caller told, nothing recorded' : 'mailbox full; the message is mailed only',
        );
      log.debug({ mode, greeting: greeting[0].kind, mailbox: `${event.params.uid}@${event.params.did}` }, 'voicemail call started');
      return { record: { ...call, state: first.record }, actions: first.actions };
    },

    decide(call: VoicemailCall, event: Event): Step<VoicemailCall, Action> {
      const step = onEvent(call.state, event, settingsOf(call, call.state.mode));
      return { record: step.record === call.state ? call : { ...call, state: step.record }, actions: step.actions };
    },

    actions: {
      'hand-over': async (_action, call, context) => {
        await handOver(call, context, options.deposits, domains.of(call.params.did).country ?? config.VM_COUNTRY);
        return [{ kind: 'handed-over' }];
      },
    },

    // The message is at stake: a failed hand-over is taken again, never just reported.
    onFailure: (action) => (action.kind === 'hand-over' ? 'retry' : undefined),
  };
}

/**
 * What callers hear first: the subscriber's greeting along the fallback chain (one request to
 * storage, kept a while: greetings.ts), their name and the system's phrase, else the domain's or
 * the platform's default prompt (media's prompt chain).
 */
async function greetingFor(greetings: Greetings, event: CallStartedEvent, mode: string, log: Logger): Promise<[Playable] | [Playable, Playable]> {
  const mailbox = { did: event.params.did, uid: event.params.uid };
  const language = event.params.language ?? 'en';
  const ann = mode === 'ann';
  try {
    const found = await greetings.resolve(mailbox, event.params.greetingType, event.callId);
    // Its version lets media play the copy it fetched for an earlier caller.
    if (found.kind === 'greeting') return [{ kind: 'greeting', mailbox, type: found.type, version: found.version }];
    if (found.kind === 'name') {
      return [
        { kind: 'greeting', mailbox, type: 'name', version: found.version },
        { kind: 'prompt', name: ann ? 'name_not_available_ann' : 'name_not_available', language, domain: event.params.did },
      ];
    }
  } catch (error) {
    log.warn({ err: toServiceError(error).message }, 'cannot look up the personal greeting; playing the default');
  }
  return [{ kind: 'prompt', name: ann ? 'default_greeting_ann' : 'default_greeting', language, domain: event.params.did }];
}

/** Whether the mailbox holds its most messages (storage's kept counts); when storage cannot say, it is not. */
async function isFull(nc: NatsConnection, mailbox: Mailbox, maxMessages: number, callId: string, log: Logger): Promise<boolean> {
  try {
    const { counts } = await request(nc, StorageApi.countMailbox, { mailbox }, { callId, timeoutMs: 2_000 });
    return counts.new + counts.saved >= maxMessages;
  } catch (error) {
    // A message that cannot be counted can still be stored (it is admitted): better a message over the limit than one lost.
    log.warn({ err: toServiceError(error).message }, 'cannot count the mailbox; taking the message');
    return false;
  }
}
