/**
 * An application's share of the call events (call.ts): subscribed in its queue group, validated
 * at the edge, and handed over one call at a time — events of one call run in the order they
 * arrived here (a PIN's digits stay in order), events of different calls run side by side.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import {
  CallApi,
  CallEndedEventSchema,
  CallStartedEventSchema,
  decodeJson,
  DigitEventSchema,
  inSpan,
  SpanKind,
  traceOf,
  PlaybackFinishedEventSchema,
  RecordingFinishedEventSchema,
  respond,
  SUBJECTS,
  toServiceError,
  type Application,
  type CallEndedEvent,
  type CallStartedEvent,
  type DigitEvent,
  type PlaybackFinishedEvent,
  type RecordingFinishedEvent,
} from '@sipvm/contracts';
import { KeyedMutex } from './keyed-mutex.js';

export interface CallEventHandlers {
  /**
   * A new call. `taken()` tells signaling at once that the call is this application's (its record
   * exists), so that the caller is answered while the first actions start; when the handler never
   * calls it, signaling is told once the handler is done.
   */
  started(event: CallStartedEvent, taken: () => void): Promise<void>;
  digit(event: DigitEvent): Promise<void>;
  playbackFinished(event: PlaybackFinishedEvent): Promise<void>;
  recordingFinished(event: RecordingFinishedEvent): Promise<void>;
  /** Left out where hang-ups are taken from a durable stream instead (voicemail). */
  ended?(event: CallEndedEvent): Promise<void>;
}

export interface CallEventOptions {
  app: Application;
  queue: string;
  log: Logger;
  handlers: CallEventHandlers;
  /** Shared with other work on the same calls (e.g. timers) that must not overtake events. */
  perCall?: KeyedMutex;
}

/** How a call's start is answered: taken, or why not. */
type StartOutcome = { result: { taken: true } } | { error: unknown };

export function subscribeCallEvents(nc: NatsConnection, options: CallEventOptions): Subscription[] {
  const { app, log, handlers } = options;
  const perCall = options.perCall ?? new KeyedMutex();
  /**
   * Calls this instance took whose start is still running its first actions. Signaling offers a
   * start again when its answer was lost (a NATS server left between the two); that offer is
   * answered at once, not queued behind the first actions: a play whose request was lost with the
   * server waits out its timeout, and the proxy would give the call to another node meanwhile.
   */
  const starting = new Set<string>();
  /**
   * `answer`: the event is a request (the call's start), answered once: when the handler says the
   * call is taken, or else when the handler is done (or failed).
   */
  const on = <T extends { callRef: string }>(
    subject: string,
    parse: (data: Uint8Array) => T,
    handle: (event: T, taken: () => void) => Promise<void>,
    answer?: (msg: Msg, outcome: StartOutcome) => void,
    takenAlready?: (event: T) => boolean,
  ): Subscription =>
    nc.subscribe(subject, {
      queue: options.queue,
      callback: (_error, msg) => {
        let answered = false;
        const once = (outcome: StartOutcome) => {
          if (answered) return;
          answered = true;
          answer?.(msg, outcome);
        };
        const taken = () => once({ result: { taken: true } });
        let event: T;
        try {
          event = parse(msg.data);
        } catch (error) {
          log.warn({ subject, err: toServiceError(error).message }, 'call event refused');
          once({ error });
          return;
        }
        if (takenAlready?.(event)) {
          taken();
          return;
        }
        const traced = () => inSpan(subject, traceOf(msg.headers), { 'sipvm.call_ref': event.callRef }, () => handle(event, taken), SpanKind.CONSUMER);
        void perCall.run(event.callRef, traced).then(taken, (error: unknown) => {
          log.error({ subject, err: String(error) }, 'call event failed');
          once({ error });
        });
      },
    });
  const { ended } = handlers;
  const start = CallApi.start(app);
  return [
    on(
      SUBJECTS.call.started(app),
      (d) => decodeJson(CallStartedEventSchema, d, 'call started'),
      async (e, taken) => {
        try {
          await handlers.started(e, () => {
            starting.add(e.callRef);
            taken();
          });
        } finally {
          starting.delete(e.callRef);
        }
      },
      (msg, outcome) => respond(msg, start, outcome),
      (e) => starting.has(e.callRef),
    ),
    on(
      SUBJECTS.call.digit(app),
      (d) => decodeJson(DigitEventSchema, d, 'digit'),
      (e) => handlers.digit(e),
    ),
    on(
      SUBJECTS.call.playbackFinished(app),
      (d) => decodeJson(PlaybackFinishedEventSchema, d, 'playback finished'),
      (e) => handlers.playbackFinished(e),
    ),
    on(
      SUBJECTS.call.recordingFinished(app),
      (d) => decodeJson(RecordingFinishedEventSchema, d, 'recording finished'),
      (e) => handlers.recordingFinished(e),
    ),
    ...(ended
      ? [
          on(
            SUBJECTS.call.ended(app),
            (d) => decodeJson(CallEndedEventSchema, d, 'call ended'),
            (e) => ended(e),
          ),
        ]
      : []),
  ];
}
