/**
 * What the storage tests share: a real nats-server, the storage service as a real process, and a
 * client that stages audio and calls the API exactly as other services do.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import type { z } from 'zod';
import {
  encodeJson,
  MailboxChangedEventSchema,
  MessageTranscribedEventSchema,
  readAudio,
  stageAudio,
  stagingBucket,
  STREAMS,
  SUBJECTS,
  type AudioRef,
  type MailboxChangedEvent,
  type MessageTranscribedEvent,
  type StagedAudio,
  type StagingBucket,
} from '@sipvm/contracts';
import { startNats, startService, type NatsServer, type RunningServiceProcess } from '@sipvm/harness';
export { longWav, smallWav, wavHeader } from '@sipvm/harness';

export interface StorageRig {
  nats: NatsServer;
  service: RunningServiceProcess;
  nc: NatsConnection;
  staging: StagingBucket;
  /** Starts the storage service again with the same environment (after a kill). */
  restartService(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStorageRig(env: Record<string, string>): Promise<StorageRig> {
  const nats = await startNats();
  const serviceEnv = { NATS_URL: nats.url, STORAGE_HEALTH_INTERVAL_MS: '500', ...env };
  const rig: StorageRig = {
    nats,
    service: await startService('storage', serviceEnv),
    nc: await nats.connect(),
    staging: undefined as unknown as StagingBucket,
    async restartService() {
      await rig.service.stop();
      rig.service = await startService('storage', serviceEnv);
    },
    async stop() {
      await rig.nc.close();
      await rig.service.stop();
      await nats.close();
    },
  };
  rig.staging = await stagingBucket(rig.nc);
  return rig;
}

let staged = 0;

/** Stages `audio` under a fresh name. */
export async function stage(staging: StagingBucket, audio: Uint8Array | AsyncIterable<Uint8Array>): Promise<StagedAudio> {
  const source =
    audio instanceof Uint8Array
      ? (async function* () {
          yield audio;
        })()
      : audio;
  return stageAudio(staging, `test-${process.pid}-${Date.now()}-${staged++}`, source);
}

export async function readAll(nc: NatsConnection, ref: AudioRef): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of readAudio(nc, ref)) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function sha256Of(nc: NatsConnection, ref: AudioRef): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of readAudio(nc, ref)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Sends a raw payload, bypassing client-side validation, to test the service's own edge. */
export async function rawRequest(nc: NatsConnection, subject: string, payload: unknown): Promise<{ ok: boolean; error?: { kind: string; message: string } }> {
  const msg = await nc.request(subject, encodeJson(payload), { timeout: 5_000 });
  return JSON.parse(new TextDecoder().decode(msg.data)) as { ok: boolean; error?: { kind: string; message: string } };
}

/** The newest event of `subject` in the VM_MAILBOX stream (proves it is durable, not just published). */
async function lastOnMailboxStream<S extends z.ZodType>(nc: NatsConnection, subject: string, schema: S): Promise<z.output<S> | null> {
  const jsm = await jetstreamManager(nc);
  try {
    const stored = await jsm.streams.getMessage(STREAMS.mailbox.name, { last_by_subj: subject });
    return stored ? schema.parse(stored.json()) : null;
  } catch {
    return null;
  }
}

export const lastMailboxEvent = (nc: NatsConnection): Promise<MailboxChangedEvent | null> =>
  lastOnMailboxStream(nc, SUBJECTS.mailbox.changed, MailboxChangedEventSchema);

/** The newest transcript announcement. */
export const lastTranscribedEvent = (nc: NatsConnection): Promise<MessageTranscribedEvent | null> =>
  lastOnMailboxStream(nc, SUBJECTS.mailbox.transcribed, MessageTranscribedEventSchema);

export async function mailboxEvents(nc: NatsConnection): Promise<MailboxChangedEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(STREAMS.mailbox.name);
  const events: MailboxChangedEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const stored = await jsm.streams.getMessage(STREAMS.mailbox.name, { seq }).catch(() => null);
    if (stored?.subject === SUBJECTS.mailbox.changed) events.push(MailboxChangedEventSchema.parse(stored.json()));
  }
  return events;
}
