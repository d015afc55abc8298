/**
 * Moves what a SEMS msg_storage folder holds into the platform's storage, through the storage
 * service's NATS API (StorageApi) — the same requests voicemail, voicebox and web make — so the
 * layout, the message ids, the counts and the mailbox events behind MWI stay the storage
 * service's, whichever backend (local folder, S3) it runs.
 *
 * Idempotent: each message is created with an idempotency key made from its SEMS file name, so it
 * always gets the same id (message-id.ts), and a message whose id is already in the mailbox is
 * left alone without being read again. A greeting is put only where the mailbox has none of its
 * type. A message SEMS called saved is marked read once it is created. Quotas do not apply: what
 * SEMS held is all brought over.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  discardStagedAudio,
  isServiceError,
  request,
  stageAudio,
  stagingBucket,
  StorageApi,
  toServiceError,
  type Mailbox,
  type StagedAudio,
  type StagingBucket,
} from '@sipvm/contracts';
import { newMessageId } from '../message-id.js';
import { prepareAudio, type AudioOptions, type PreparedAudio } from './audio.js';
import type { SemsFolder, SemsGreeting, SemsMailbox, SemsMessage, Skipped } from './sems-folder.js';

export interface ImportOptions {
  nc: NatsConnection;
  folder: SemsFolder;
  /** Look and check everything, write nothing. */
  dryRun: boolean;
  /** Mailboxes imported at once (each one's messages in order). */
  concurrency: number;
  audio: AudioOptions;
  /** After each message or greeting, whatever became of it. */
  onProgress?: (done: number, total: number) => void;
  /** Waits before retrying a request storage could not serve; their number is the retry budget. */
  retryDelaysMs?: readonly number[];
}

export interface ImportReport {
  dryRun: boolean;
  mailboxes: number;
  messages: { imported: number; new: number; saved: number; alreadyThere: number };
  greetings: { imported: number; alreadyThere: number };
  /** Not brought over, with why: not SEMS's, damaged, empty. */
  skipped: Skipped[];
  /** Could not be brought over now (storage refused or was away): a later run takes them. */
  failed: Skipped[];
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 15_000];

export async function importSemsFolder(options: ImportOptions): Promise<ImportReport> {
  const report: ImportReport = {
    dryRun: options.dryRun,
    mailboxes: options.folder.mailboxes.length,
    messages: { imported: 0, new: 0, saved: 0, alreadyThere: 0 },
    greetings: { imported: 0, alreadyThere: 0 },
    skipped: [...options.folder.skipped],
    failed: [],
  };
  const total = options.folder.mailboxes.reduce((sum, m) => sum + m.messages.length + m.greetings.length, 0);
  let done = 0;
  const step = () => options.onProgress?.(++done, total);
  const context: Context = { options, report, staging: options.dryRun ? undefined : await stagingBucket(options.nc), step };
  const queue = [...options.folder.mailboxes];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await importMailbox(context, next);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, queue.length)) }, worker));
  return report;
}

interface Context {
  options: ImportOptions;
  report: ImportReport;
  staging: StagingBucket | undefined;
  step: () => void;
}

async function importMailbox(context: Context, semsMailbox: SemsMailbox): Promise<void> {
  const { mailbox } = semsMailbox;
  let existing: Set<string>;
  try {
    existing = await existingMessageIds(context, mailbox);
  } catch (error) {
    for (const item of [...semsMailbox.messages, ...semsMailbox.greetings]) {
      context.report.failed.push({ name: item.name, reason: toServiceError(error).message });
      context.step();
    }
    return;
  }
  for (const message of semsMailbox.messages) {
    await settle(context, message.name, () => importMessage(context, mailbox, message, existing));
    context.step();
  }
  for (const greeting of semsMailbox.greetings) {
    await settle(context, greeting.name, () => importGreeting(context, mailbox, greeting));
    context.step();
  }
}

/** The same SEMS file always makes the same key, and so the same message id. */
export function idempotencyKeyOf(message: Pick<SemsMessage, 'name'>): string {
  return `sems:${createHash('sha256').update(message.name).digest('hex')}`;
}

async function importMessage(context: Context, mailbox: Mailbox, message: SemsMessage, existing: ReadonlySet<string>): Promise<void> {
  const idempotencyKey = idempotencyKeyOf(message);
  if (existing.has(newMessageId(message.recordedAt, mailbox, idempotencyKey))) {
    context.report.messages.alreadyThere++;
    return;
  }
  await withAudio(context, message, async (audio, staged) => {
    if (staged !== undefined) {
      const { message: created, created: fresh } = await retrying(context, () =>
        request(context.options.nc, StorageApi.createMessage, {
          mailbox,
          sender: message.sender,
          recordedAt: message.recordedAt.toISOString(),
          durationMs: audio.durationMs,
          codec: audio.codec,
          audio: staged,
          idempotencyKey,
          maxMessages: 0,
        }),
      );
      if (!fresh) {
        context.report.messages.alreadyThere++;
        return;
      }
      if (message.saved) await retrying(context, () => request(context.options.nc, StorageApi.markMessage, { mailbox, id: created.id, read: true }));
    }
    context.report.messages.imported++;
    context.report.messages[message.saved ? 'saved' : 'new']++;
  });
}

async function importGreeting(context: Context, mailbox: Mailbox, greeting: SemsGreeting): Promise<void> {
  try {
    await retrying(context, () => request(context.options.nc, StorageApi.getGreeting, { mailbox, type: greeting.type }));
    context.report.greetings.alreadyThere++;
    return;
  } catch (error) {
    if (!isServiceError(error, 'greeting-not-found')) throw error;
  }
  await withAudio(context, greeting, async (_audio, staged) => {
    if (staged !== undefined)
      await retrying(context, () => request(context.options.nc, StorageApi.putGreeting, { mailbox, type: greeting.type, audio: staged }));
    context.report.greetings.imported++;
  });
}

/**
 * Checks (and if need be converts) a file's audio, stages it unless this is a dry run, and hands
 * both on; a file that is not usable audio is skipped, and staged audio is always discarded.
 */
async function withAudio(
  context: Context,
  file: SemsMessage | SemsGreeting,
  use: (audio: Extract<PreparedAudio, { ok: true }>, staged: StagedAudio | undefined) => Promise<void>,
): Promise<void> {
  const audio = await prepareAudio(file, context.options.audio);
  if (!audio.ok) {
    context.report.skipped.push({ name: file.name, reason: audio.reason });
    return;
  }
  let staged: StagedAudio | undefined;
  try {
    if (context.staging) staged = await stageAudio(context.staging, `sems-import-${randomUUID()}`, audio.read());
    await use(audio, staged);
  } finally {
    await audio.dispose();
    if (context.staging && staged) await discardStagedAudio(context.staging, staged).catch(() => undefined);
  }
}

/** Runs one item's import; what goes wrong is reported against the item, and the run goes on. */
async function settle(context: Context, name: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    context.report.failed.push({ name, reason: toServiceError(error).message });
  }
}

async function existingMessageIds(context: Context, mailbox: Mailbox): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let offset = 0; ;) {
    const page = await retrying(context, () => request(context.options.nc, StorageApi.listMailbox, { mailbox, offset }));
    for (const message of page.messages) ids.add(message.id);
    offset += page.messages.length;
    if (page.messages.length === 0 || offset >= page.total) return ids;
  }
}

/** A request again after a wait while storage cannot serve it (it is away, or its backend is). */
async function retrying<T>(context: Context, attempt: () => Promise<T>): Promise<T> {
  const delays = context.options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  for (let tried = 0; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      const delay = delays[tried];
      if (delay === undefined || !toServiceError(error).retryable) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
