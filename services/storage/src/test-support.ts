/**
 * What the storage tests share: a real nats-server, the storage service as a real process, and a
 * client that stages audio and calls the API exactly as other services do.
 */
import { createHash } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ObjectStore } from '@nats-io/obj';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  encodeJson,
  MailboxChangedEventSchema,
  readAudio,
  stageAudio,
  stagingBucket,
  STREAMS,
  SUBJECTS,
  type AudioRef,
  type MailboxChangedEvent,
  type StagedAudio,
} from '@sipvm/contracts';
import { startNats, startService, type NatsServer, type RunningServiceProcess } from '@sipvm/harness';

export interface StorageRig {
  nats: NatsServer;
  service: RunningServiceProcess;
  nc: NatsConnection;
  staging: ObjectStore;
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
    nc: await connect({ servers: nats.url }),
    staging: undefined as unknown as ObjectStore,
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
export async function stage(staging: ObjectStore, audio: Uint8Array | AsyncIterable<Uint8Array>): Promise<StagedAudio> {
  const source = audio instanceof Uint8Array ? (async function* () { yield audio; })() : audio;
  return stageAudio(staging, `test-${process.pid}-${Date.now()}-${staged++}`, source);
}

/** A WAV file of `seconds` of 8 kHz mono 16-bit audio: a header and a deterministic signal. */
export function wavHeader(dataBytes: number, sampleRate = 8000): Uint8Array {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export function smallWav(seconds = 1, salt = 0): Uint8Array {
  const samples = Math.round(8000 * seconds);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin((i + salt) / 3)), i * 2);
  return Buffer.concat([wavHeader(data.length), data]);
}

/** A long WAV produced chunk by chunk (never whole in memory), with its SHA-256 and size. */
export function longWav(seconds: number): { chunks: AsyncIterable<Uint8Array>; size: number; sha256: Promise<string> } {
  const dataBytes = 8000 * 2 * seconds;
  const hash = createHash('sha256');
  let resolve!: (digest: string) => void;
  const sha256 = new Promise<string>((r) => (resolve = r));
  async function* chunks() {
    const header = wavHeader(dataBytes);
    hash.update(header);
    yield header;
    const chunk = Buffer.alloc(64 * 1024);
    let sample = 0;
    for (let written = 0; written < dataBytes; written += chunk.length) {
      const n = Math.min(chunk.length, dataBytes - written);
      for (let i = 0; i < n; i += 2) chunk.writeInt16LE(((sample++ * 7919) % 65536) - 32768, i);
      const part = Buffer.from(chunk.subarray(0, n));
      hash.update(part);
      yield part;
    }
    resolve(hash.digest('hex'));
  }
  return { chunks: chunks(), size: 44 + dataBytes, sha256 };
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

/** The newest mailbox event in the VM_MAILBOX stream (proves it is durable, not just published). */
export async function lastMailboxEvent(nc: NatsConnection): Promise<MailboxChangedEvent | null> {
  const jsm = await jetstreamManager(nc);
  try {
    const stored = await jsm.streams.getMessage(STREAMS.mailbox.name, { last_by_subj: SUBJECTS.mailbox.changed });
    return stored ? MailboxChangedEventSchema.parse(stored.json()) : null;
  } catch {
    return null;
  }
}

export async function mailboxEvents(nc: NatsConnection): Promise<MailboxChangedEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(STREAMS.mailbox.name);
  const events: MailboxChangedEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const stored = await jsm.streams.getMessage(STREAMS.mailbox.name, { seq }).catch(() => null);
    if (stored) events.push(MailboxChangedEventSchema.parse(stored.json()));
  }
  return events;
}
