/**
 * The end of a call, published so that it is not lost where it matters. Where a stream captures an
 * application's ends (voicemail: the hand-over of the message waits for it), a plain publish is
 * dropped without a word while that stream has no leader — for the seconds a NATS cluster takes to
 * elect one after a server died — and the recording would wait for nobody. So there it is a
 * JetStream publish that waits for the stream's acknowledgement and is tried again until it gets
 * one; the same end twice (a retry, or signaling and media both ending a call) is one message
 * (message id). Subscribers of the subject get it either way.
 * Sequence: docs/flows/hangup-and-handover.md
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { CallEndedEventSchema, type Application, type CallEndedEvent } from './call.js';
import { ServiceError, toServiceError } from './errors.js';
import { untilAvailable } from './nats-patience.js';
import { encodeJson } from './rpc.js';
import { STREAMS } from './streams.js';
import { SUBJECTS } from './subjects.js';
import { withTraceHeaders } from './tracing.js';

/** The stream that captures each such subject (by its exact name: no pattern captures an end). */
const CAPTURED: ReadonlyMap<string, string> = new Map(
  Object.values(STREAMS).flatMap((stream) => stream.subjects.map((subject): [string, string] => [subject, stream.name])),
);

export async function publishCallEnded(nc: NatsConnection, app: Application, event: CallEndedEvent, options: { deadlineMs?: number } = {}): Promise<void> {
  const subject = SUBJECTS.call.ended(app);
  const data = encodeJson(CallEndedEventSchema.parse(event));
  const stream = CAPTURED.get(subject);
  // The call's trace goes with its end: the hand-over of its recording joins it.
  const headers = withTraceHeaders(undefined);
  if (stream === undefined) {
    nc.publish(subject, data, headers ? { headers } : undefined);
    return;
  }
  const js = jetstream(nc);
  try {
    await untilAvailable(
      async () => {
        try {
          await js.publish(subject, data, { msgID: `ended-${event.callRef}`, ...(headers ? { headers } : {}) });
        } catch (error) {
          // No stream at all (its application is not deployed): nobody waits for a durable copy,
          // and the subject's subscribers had this publish all the same (a publish with a reply
          // subject): it is not sent again, which would give them the end twice.
          if (await streamMissing(nc, stream)) return;
          throw error;
        }
      },
      { deadlineMs: options.deadlineMs ?? 60_000 },
    );
  } catch (error) {
    throw new ServiceError('service-unavailable', `the end of call ${event.callRef} could not be handed to JetStream: ${toServiceError(error).message}`, {
      cause: error,
    });
  }
}

/**
 * True only when JetStream says the stream does not exist (not when it cannot say). Its info, not a
 * search by subject: a publisher may look at this stream (permissions.ts) and at no other.
 */
async function streamMissing(nc: NatsConnection, stream: string): Promise<boolean> {
  try {
    await (await jetstreamManager(nc, { checkAPI: false })).streams.info(stream);
    return false;
  } catch (error) {
    return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
  }
}
