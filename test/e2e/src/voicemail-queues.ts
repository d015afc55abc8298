/**
 * What voicemail's work queues say, for tests that must show something did NOT happen: a stream's
 * newest sequence unchanged means nothing was published to it, and empty queues after a call's
 * end arrived mean voicemail has handled (and acknowledged) all of it — no sleep standing in.
 */
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { STREAMS } from '@sipvm/contracts';
import { waitFor } from '@sipvm/harness';

export interface VoicemailQueues {
  /** The sequence of a stream's newest message. */
  lastSeq(stream: keyof typeof STREAMS): Promise<number>;
  /**
   * Waits until a call end newer than `callEndsBefore` (a `lastSeq('voicemailCallEnds')`) has
   * arrived and every call end, deposit and mail has been acknowledged.
   */
  settled(callEndsBefore: number, timeoutMs?: number): Promise<void>;
}

export async function voicemailQueues(nc: NatsConnection): Promise<VoicemailQueues> {
  const jsm: JetStreamManager = await jetstreamManager(nc);
  // A stream its service has not created (no mail configured) has had nothing published to it.
  const state = async (stream: keyof typeof STREAMS) =>
    (
      await jsm.streams.info(STREAMS[stream].name).catch((error: unknown) => {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return { state: { last_seq: 0, messages: 0 } };
        throw error;
      })
    ).state;
  return {
    lastSeq: async (stream) => (await state(stream)).last_seq,
    settled: (callEndsBefore, timeoutMs = 30_000) =>
      waitFor(
        async () => {
          const [ends, deposits, mail] = await Promise.all([state('voicemailCallEnds'), state('deposits'), state('mail')]);
          return ends.last_seq > callEndsBefore && ends.messages === 0 && deposits.messages === 0 && mail.messages === 0;
        },
        timeoutMs,
        'voicemail to settle every call end, deposit and mail',
      ),
  };
}
