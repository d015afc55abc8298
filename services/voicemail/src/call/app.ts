/**
 * The voicemail application on the call runtime: what a call's record holds, how a call starts
 * (which greeting), and the one action of its own, the hand-over of the recorded message.
 *
 * Hang-ups come from the JetStream stream VM_VOICEMAIL_CALL_ENDS, so the recording is handed over
 * by whichever instance is alive, and a hand-over that fails is retried until it works.
 */
import { z } from 'zod';
import {
  BUCKETS,
  AppParamsSchema,
  PlayableSchema,
  toServiceError,
  type CallStartedEvent,
  type Playable,
  type VoicemailMode,
} from '@sipvm/contracts';
import { CallBaseShape, recordingOf, type ActionContext, type CallApplication, type Step } from '@sipvm/service';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { onEvent, startCall, VoicemailStateSchema, type Action, type Event, type FlowSettings, type HandOver } from './flow.js';
import type { CallConfig } from './config.js';
import type { Domains } from './domains.js';
import type { Greetings } from './greetings.js';
import type { DepositProcessor } from '../deposit/processor.js';

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
  const settingsOf = (call: Pick<VoicemailCall, 'greeting' | 'params' | 'earlyMedia'>, mode: VoicemailMode): FlowSettings => {
    // P-App-Param first (the proxy knows the mailbox), then the domain's configuration, then the platform's.
    const domain = domains.of(call.params.did);
    const silenceMs = call.params.maxSilenceS !== undefined ? call.params.maxSilenceS * 1000 : (domain.maxSilenceMs ?? config.VM_MAX_SILENCE_MS);
    const operator = call.params.operator ?? domain.operator ?? config.VM_OPERATOR_URI;
    return {
      greeting: call.greeting,
      language: call.params.language ?? 'en',
      ...(call.earlyMedia && mode === 'ann' ? { earlyMedia: call.earlyMedia } : {}),
      maxMessageMs: config.VM_MAX_MESSAGE_MS,
      // One idea of silence for the live watch and the deposit check (VM_SILENCE_THRESHOLD_DBFS).
      endOnSilence: silenceMs > 0 ? { silenceMs, thresholdDbfs: Math.max(-120, config.VM_SILENCE_THRESHOLD_DBFS) } : undefined,
      operator: operator
        ? { uri: operator, method: domain.operatorTransfer ?? config.VM_OPERATOR_TRANSFER, recording: domain.operatorRecording ?? config.VM_OPERATOR_RECORDING }
        : undefined,
    };
  };
  return {
    name: 'voicemail',
    apps: ['voicemail'],
    queue: VOICEMAIL_QUEUE,
    bucket: CALLS_BUCKET,
    record: VoicemailCallSchema,
    durableEnds: { stream: 'voicemailCallEnds', consumer: 'voicemail-call-ends' },

    async start(event: CallStartedEvent, log: Logger): Promise<Step<VoicemailCall, Action>> {
      const mode = event.params.mode ?? 'voicemail';
      const greeting = await greetingFor(options.greetings, event, mode, log);
      const call = {
        callRef: event.callRef,
        callId: event.callId,
        signalingInstance: event.signalingInstance,
        mediaInstance: event.mediaInstance,
        mediaNode: event.mediaNode,
        codec: event.codec,
        params: event.params,
        ...(event.earlyMedia && event.finalReply ? { earlyMedia: { finalReply: event.finalReply } } : {}),
        greeting,
      };
      const first = startCall(mode, settingsOf(call, mode));
      log.debug({ mode, greeting: greeting.kind, mailbox: `${event.params.uid}@${event.params.did}` }, 'voicemail call started');
      return { record: { ...call, state: first.record }, actions: first.actions };
    },

    decide(call: VoicemailCall, event: Event): Step<VoicemailCall, Action> {
      const step = onEvent(call.state, event, settingsOf(call, call.state.mode));
      return { record: step.record === call.state ? call : { ...call, state: step.record }, actions: step.actions };
    },

    async perform(_action: HandOver, call: VoicemailCall, context: ActionContext): Promise<Event[]> {
      await handOver(call, context, options.deposits);
      return [{ kind: 'handed-over' }];
    },

    // The message is at stake: a failed hand-over is taken again, never just reported.
    onFailure: (action) => (action.kind === 'hand-over' ? 'retry' : undefined),
  };
}

/** The caller's personal greeting of the requested type, else the domain/platform default prompt. */
async function greetingFor(greetings: Greetings, event: CallStartedEvent, mode: string, log: Logger): Promise<Playable> {
  const mailbox = { did: event.params.did, uid: event.params.uid };
  const type = event.params.greetingType;
  try {
    const found = await greetings.lookup(mailbox, type, event.callId);
    // Its version lets media play the copy it fetched for an earlier caller.
    if ('version' in found) return { kind: 'greeting', mailbox, type, version: found.version };
  } catch (error) {
    log.warn({ err: toServiceError(error).message }, 'cannot look up the personal greeting; playing the default');
  }
  return { kind: 'prompt', name: mode === 'ann' ? 'default_greeting_ann' : 'default_greeting', language: event.params.language ?? 'en', domain: event.params.did };
}

/** Stops the recording and hands the message over (a deposit); throws when it cannot, to be retried. */
async function handOver(call: VoicemailCall, context: ActionContext, deposits: Pick<DepositProcessor, 'hand'>): Promise<void> {
  const recording = await recordingOf(context);
  if (!recording) {
    context.log.info('nothing was recorded');
    return;
  }
  const { params } = call;
  if (call.state.mode === 'ann') return; // announcements record nothing
  await deposits.hand({
    depositId: recording.audio.name,
    mode: call.state.mode,
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
    ...(recording.loudestDbfs !== undefined ? { loudestDbfs: recording.loudestDbfs } : {}),
    extra: params.extra,
  });
  context.log.debug({ depositId: recording.audio.name, durationMs: recording.durationMs }, 'message handed over');
}
