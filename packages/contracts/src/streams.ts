/**
 * JetStream streams of the platform. Work that must not be lost (mailbox events for MWI, mail)
 * goes through these; each service that produces or consumes a stream calls `ensureStreams`
 * at start-up with the ones it needs, so start order does not matter.
 */
import { RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { BucketName } from './buckets.js';
import { SUBJECTS } from './subjects.js';

const DAY_NS = 24 * 3600 * 1_000_000_000;
const MINUTE_NS = 60 * 1_000_000_000;

export const STREAMS = {
  /** Mailbox changes, for MWI. Kept a week so a signaling outage catches up. */
  mailbox: {
    name: 'VM_MAILBOX',
    subjects: [SUBJECTS.mailbox.changed, SUBJECTS.mailbox.transcribed],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 7 * DAY_NS,
    duplicate_window: 2 * MINUTE_NS,
  },
  /**
   * Caller hang-ups of voicemail calls, captured from signaling's call events, so the recording
   * is handed over by whichever voicemail instance is alive (the one running the call may not be).
   */
  voicemailCallEnds: {
    name: 'VM_VOICEMAIL_CALL_ENDS',
    subjects: [SUBJECTS.call.ended('voicemail')],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 1 * DAY_NS,
    duplicate_window: 2 * MINUTE_NS,
  },
  /**
   * Inactivity timers of voicebox and annrecorder calls. A timer is a message delivered again
   * and again (negative ack with a delay) until it is due, so it fires on whichever instance is
   * alive, not only on the one that armed it.
   */
  voiceboxTimers: {
    name: 'VM_VOICEBOX_TIMERS',
    subjects: [SUBJECTS.voicebox.timer, SUBJECTS.voicebox.annrecorderTimer],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 1 * DAY_NS,
    duplicate_window: 2 * MINUTE_NS,
  },
  /** Timers of voicemail calls (the wait for the urgent key after a message), as for voicebox. */
  voicemailTimers: {
    name: 'VM_VOICEMAIL_TIMERS',
    subjects: [SUBJECTS.voicemail.timer],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 1 * DAY_NS,
    duplicate_window: 2 * MINUTE_NS,
  },
  /**
   * What mailbox owners are told (notices.ts): kept a week, read by the mail sender (a mail, when
   * the owner's address is known) and by web (webhooks), each with a durable consumer of its own.
   */
  mailboxNotices: {
    name: 'VM_MAILBOX_NOTICES',
    subjects: [SUBJECTS.mailbox.notice],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 7 * DAY_NS,
    duplicate_window: 30 * MINUTE_NS,
  },
  /** Finished recordings waiting to be stored and mailed: a deposit leaves only when done. */
  deposits: {
    name: 'VM_DEPOSITS',
    subjects: [SUBJECTS.voicemail.deposit],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 7 * DAY_NS,
    duplicate_window: 30 * MINUTE_NS,
  },
  /**
   * Messages waiting for the transcriber (transcription.ts): a job leaves only when its transcript
   * (or its absence) is settled. A day at most: the transcriber marks older jobs "no transcript"
   * long before (TRANSCRIBE_MAX_AGE), so none expires unmarked unless no transcriber runs at all.
   */
  transcriptions: {
    name: 'VM_TRANSCRIPTIONS',
    subjects: [SUBJECTS.voicemail.transcribe],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 1 * DAY_NS,
    duplicate_window: 30 * MINUTE_NS,
  },
  /**
   * Audio on its way to storage (staging.ts): a staged file is the messages of its own subject,
   * read by direct get and purged when it has arrived. Kept a week at most, for long outages.
   */
  staging: {
    name: 'VM_STAGING',
    subjects: [SUBJECTS.staging.all],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 7 * DAY_NS,
    allow_direct: true,
    duplicate_window: 2 * MINUTE_NS,
  },
  /** The durable mail outbox: a job leaves it only when it was sent or reported failed. */
  mail: {
    name: 'VM_MAIL',
    subjects: [SUBJECTS.mail.send],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 14 * DAY_NS,
    duplicate_window: 10 * MINUTE_NS,
  },
  /** Mails that could not be delivered, for operators (and alerting) to act on. Kept 30 days. */
  mailFailed: {
    name: 'VM_MAIL_FAILED',
    subjects: [SUBJECTS.mail.failed],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 30 * DAY_NS,
    duplicate_window: 2 * MINUTE_NS,
  },
  /** Webhook deliveries, one per (mailbox event, target): a delivery leaves only when accepted or reported failed. */
  webhooks: {
    name: 'VM_WEBHOOKS',
    subjects: [SUBJECTS.webhook.deliver],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: 7 * DAY_NS,
    duplicate_window: 30 * MINUTE_NS,
  },
  /** Webhook deliveries that could not be made within their budget, for operators to act on. Kept 30 days. */
  webhooksFailed: {
    name: 'VM_WEBHOOKS_FAILED',
    subjects: [SUBJECTS.webhook.failed],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 30 * DAY_NS,
    duplicate_window: 2 * MINUTE_NS,
  },
} as const satisfies Record<string, Partial<StreamConfig> & { name: string; subjects: string[] }>;

export type StreamName = keyof typeof STREAMS;

/**
 * How many copies JetStream keeps of every stream and KV bucket the platform creates:
 * 1 on one server, 3 on a three-server cluster. The service kit sets it once at start-up from
 * JETSTREAM_REPLICAS; it applies when a stream or bucket is created (streams are also updated to it).
 */
let replicas = 1;
export function setJetStreamReplicas(count: number): void {
  replicas = count;
}
export function jetStreamReplicas(): number {
  return replicas;
}

/** Opens a KV bucket (one of BUCKETS), creating it with the platform's replica count when it does not exist. */
export function openKv(nc: NatsConnection, bucket: BucketName, options: Partial<KvOptions>): Promise<KV> {
  return new Kvm(nc).create(bucket, { ...options, replicas });
}

/** Creates the streams, or updates them to this configuration when they exist. */
export async function ensureStreams(jsm: JetStreamManager, names: readonly StreamName[]): Promise<void> {
  for (const key of names) {
    const config = { ...STREAMS[key], num_replicas: replicas };
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, { ...config, subjects: [...config.subjects] });
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await jsm.streams.add({ ...config, subjects: [...config.subjects] });
    }
  }
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && /stream not found/i.test(error.message);
}

/**
 * Removes a KV entry for good: every message of its key, delete markers included. A KV delete or
 * purge leaves a marker that stays until the bucket's max age, and NATS keeps each key's index in
 * memory as long: a bucket of per-call state would grow by a key per call for hours (measured: 66,294
 * markers and 200 MB more after 15 minutes of calls). Removing what is not there is fine.
 */
export async function eraseKvKey(jsm: JetStreamManager, bucket: BucketName, key: string): Promise<void> {
  await jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${key}` });
}
