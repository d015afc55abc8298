/**
 * Makes deposits (finished recordings) messages: checks the audio (too short or silent →
 * discarded), stores it (mode box/both) and queues its mail (mode voicemail/both). Every step is
 * idempotent by depositId, so a deposit taken again after a crash is stored and mailed once.
 *
 * A deposit is made at once, by the instance that handed the recording over (`hand`): the call's
 * end, durable in JetStream, is acknowledged only after it, so a crash meanwhile takes it again.
 * Only a deposit that cannot be made now (storage or NATS trouble) goes to the queue VM_DEPOSITS,
 * whose worker retries it, the last delay repeating, until it works — it is never dropped for a
 * passing failure. (Every deposit through the queue cost a publish, a delivery, an ack and a
 * pull, and NATS a file created and removed, for what was done at once almost always.)
 *
 * With transcription on for the domain, it also queues a job for the transcriber once the
 * message is stored (contracts' transcription.ts): storage and MWI are done before, and a mail
 * that does not wait for the text is queued as ever. Only a mail that waits is queued to wait.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Counter, type Registry } from 'prom-client';
import {
  decodeJson,
  DepositSchema,
  discardStagedAudio,
  encodeJson,
  enqueueMail,
  enqueueTranscription,
  ensureStreams,
  isServiceError,
  openStagedAudio,
  publishDeposit,
  request,
  StorageApi,
  STREAMS,
  SUBJECTS,
  toServiceError,
  type Deposit,
  type DepositInput,
  type DepositOutcome,
  type MailJobInput,
  type StagingBucket,
} from '@sipvm/contracts';
import { callLogger, retryDelay, startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import { checkWav, NotPcmWavError } from './audio-check.js';
import type { DepositConfig } from './config.js';
import type { TranscriptionMode } from '../transcription/config.js';

export const DEPOSIT_CONSUMER = 'voicemail-deposits';
const ACK_WAIT_MS = 120_000;

export interface DepositProcessorOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  staging: StagingBucket;
  config: DepositConfig;
  /** The transcription of a domain's messages (VM_TRANSCRIPTION, the domain's own). */
  transcriptionOf: (did: string) => { mode: TranscriptionMode; waitMs: number };
  log: Logger;
  registry: Registry;
}

export interface DepositProcessor {
  /**
   * Makes the deposit a message now; one that cannot be made now is queued for the retries.
   * Throws only when it could neither be made nor queued (the hand-over is then retried).
   */
  hand(deposit: DepositInput): Promise<void>;
  stop(): Promise<void>;
}

export async function startDepositProcessor(options: DepositProcessorOptions): Promise<DepositProcessor> {
  await ensureStreams(options.jsm, ['deposits', 'mail', 'mailFailed', 'transcriptions']);
  const outcomes = new Counter({
    name: 'sipvm_deposits_total',
    help: 'Recordings handed over, by what became of them',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const retries = new Counter({
    name: 'sipvm_deposit_retries_total',
    help: 'Deposit attempts that failed (storage or NATS trouble) and will be retried',
    registers: [options.registry],
  });
  const counted = (result: Handled): Handled => {
    if (result.kind === 'retry') retries.inc();
    else if (result.outcome) outcomes.inc({ outcome: result.outcome });
    return result;
  };
  const worker = await startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.deposits.name,
    consumer: DEPOSIT_CONSUMER,
    filterSubject: SUBJECTS.voicemail.deposit,
    concurrency: options.config.VM_DEPOSIT_CONCURRENCY,
    ackWaitMs: ACK_WAIT_MS,
    log: options.log,
    handle: async (msg) => counted(await handleQueued(msg, options)),
  });
  return {
    async hand(input) {
      const deposit = DepositSchema.parse(input);
      const result = counted(await makeMessage(deposit, 1, options));
      if (result.kind !== 'retry') return;
      // Not now: the queue's worker takes it from here, with its delays.
      await publishDeposit(options.js, deposit);
    },
    stop: () => worker.stop(),
  };
}

type Handled = WorkOutcome & { outcome?: DepositOutcome['outcome'] };

async function handleQueued(msg: JsMsg, options: DepositProcessorOptions): Promise<Handled> {
  let deposit: Deposit;
  try {
    deposit = decodeJson(DepositSchema, msg.data, 'deposit');
  } catch (error) {
    // A malformed deposit is a producer bug; keep a loud trace of it, it cannot become a message.
    options.log.error({ err: toServiceError(error).message, seq: msg.seq }, 'malformed deposit removed');
    return { kind: 'drop', reason: 'malformed deposit', outcome: 'failed' };
  }
  // The attempt made at once when it was handed over counts as the first.
  return makeMessage(deposit, msg.info.deliveryCount + 1, options);
}

/** One attempt (1, 2, …) at making the deposit a message. */
async function makeMessage(deposit: Deposit, attempt: number, options: DepositProcessorOptions): Promise<Handled> {
  const log = callLogger(options.log, deposit.depositId).child({ depositId: deposit.depositId, mailbox: `${deposit.uid}@${deposit.did}`, mode: deposit.mode });
  const retry = (why: unknown): Handled => {
    const delayMs = retryDelay(options.config.VM_DEPOSIT_RETRY_DELAYS, attempt);
    log.warn({ attempt, retryInMs: delayMs, err: toServiceError(why).message }, 'deposit not finished; will retry');
    return { kind: 'retry', delayMs };
  };

  try {
    // 1. What is in it. (A deposit retried after it was stored may find its audio gone; storage has it.)
    const check = await checkAudio(deposit, options);
    if (check.kind === 'discard') {
      log.info({ reason: check.reason, durationMs: check.durationMs, loudestDbfs: check.loudestDbfs }, 'recording discarded');
      await discardStagedAudio(options.staging, deposit.audio).catch(() => undefined);
      await announce(options, deposit, { outcome: check.outcome, reason: check.reason, at: now() });
      return { kind: 'done', outcome: check.outcome };
    }

    // 2. Into the mailbox. The limit was checked when the call started (a full mailbox's caller
    // left nothing, or mode both mails only): a recorded message is stored even if the mailbox
    // filled up meanwhile — never recorded and then dropped.
    let messageId: string | undefined;
    if (deposit.mode === 'box' || deposit.mode === 'both') {
      const stored = await request(options.nc, StorageApi.createMessage, {
        mailbox: { did: deposit.did, uid: deposit.uid },
        sender: deposit.sender,
        ...(deposit.caller !== undefined ? { caller: deposit.caller } : {}),
        recordedAt: deposit.recordedAt,
        durationMs: check.durationMs,
        codec: deposit.codec,
        urgent: deposit.urgent,
        audio: deposit.audio,
        idempotencyKey: deposit.depositId,
        admitted: true,
        ...(deposit.maxMessages !== undefined ? { maxMessages: deposit.maxMessages } : {}),
        ...(deposit.quotaWarnPercent !== undefined ? { quotaWarnPercent: deposit.quotaWarnPercent } : {}),
        owner: {
          user: deposit.user,
          domain: deposit.domain,
          ...(deposit.email !== undefined ? { email: deposit.email } : {}),
          ...(deposit.language !== undefined ? { language: deposit.language } : {}),
        },
      });
      messageId = stored.message.id;
      log.info({ messageId, created: stored.created, counts: stored.counts, urgent: deposit.urgent }, 'message stored');
    }

    // 3. Into the mail outbox (which then owns the staged audio), or the audio is no longer needed.
    //    With transcription, the transcriber's job first: a mail that waits for it must find it queued.
    const to = deposit.mode === 'voicemail' || deposit.mode === 'both' ? deposit.email : undefined;
    const transcription = options.transcriptionOf(deposit.did);
    const mailWaits = to !== undefined && transcription.mode === 'wait';
    let mail: MailJobInput | undefined;
    if (to !== undefined) {
      mail = {
        mailId: deposit.depositId,
        to,
        user: deposit.user,
        domain: deposit.domain,
        uid: deposit.uid,
        did: deposit.did,
        ...(deposit.language !== undefined ? { language: deposit.language } : {}),
        sender: deposit.sender,
        ...(deposit.caller !== undefined ? { caller: deposit.caller } : {}),
        recordedAt: deposit.recordedAt,
        durationMs: check.durationMs,
        ...(messageId !== undefined ? { messageId } : {}),
        ...(deposit.urgent ? { urgent: true } : {}),
        attachment: deposit.audio,
        extra: deposit.extra,
        enqueuedAt: now(),
      };
    }
    // Heard when there is a stored message to put the text into, or a mail waiting for it (which keeps the staged audio until it goes).
    if (transcription.mode !== 'off' && (messageId !== undefined || mailWaits)) {
      await enqueueTranscription(options.js, {
        jobId: deposit.depositId,
        mailbox: { did: deposit.did, uid: deposit.uid },
        ...(messageId !== undefined ? { messageId } : { audio: deposit.audio }),
        ...(deposit.language !== undefined ? { language: deposit.language } : {}),
        durationMs: check.durationMs,
        ...(mailWaits ? { mail } : {}),
        enqueuedAt: now(),
      });
      log.info({ mailWaits }, 'transcription queued');
    }
    if (mail) {
      await enqueueMail(options.js, mailWaits ? { ...mail, awaitTranscriptUntil: new Date(Date.now() + transcription.waitMs).toISOString() } : mail);
      log.info(mailWaits ? { waitsMs: transcription.waitMs } : {}, mailWaits ? 'mail queued to wait for the transcript' : 'mail queued');
    } else {
      await discardStagedAudio(options.staging, deposit.audio).catch(() => undefined);
    }
    const outcome = deposit.mode === 'box' ? 'stored' : deposit.mode === 'voicemail' ? 'mailed' : messageId ? 'stored-and-mailed' : 'mailed';
    await announce(options, deposit, { outcome, ...(messageId ? { messageId } : {}), at: now() });
    return { kind: 'done', outcome };
  } catch (error) {
    if (isServiceError(error, 'bad-request')) {
      // Retrying cannot help (its staged audio expired before it was stored): say so loudly.
      log.error({ err: error.message }, 'deposit cannot become a message');
      await announce(options, deposit, { outcome: 'failed', reason: error.message, at: now() });
      return { kind: 'drop', reason: error.message, outcome: 'failed' };
    }
    return retry(error);
  }
}

type Check =
  | { kind: 'keep'; durationMs: number }
  | { kind: 'discard'; outcome: 'discarded-short' | 'discarded-silent'; reason: string; durationMs: number; loudestDbfs: number };

async function checkAudio(deposit: Deposit, options: DepositProcessorOptions): Promise<Check> {
  let result;
  try {
    // Media measured it while converting: no need to read the audio back (an object store read per message).
    result =
      deposit.loudestDbfs !== undefined
        ? { durationMs: deposit.durationMs, loudestFrameDbfs: deposit.loudestDbfs }
        : await checkWav(await openStagedAudio(options.staging, deposit.audio));
  } catch (error) {
    if (error instanceof NotPcmWavError) {
      // Not analysable (a codec the recorder kept as is): trust the recorder's duration, keep it.
      options.log.warn({ depositId: deposit.depositId, err: error.message }, 'recording is not 16-bit PCM WAV; not checked for silence');
      return deposit.durationMs < options.config.VM_MIN_MESSAGE_MS
        ? {
            kind: 'discard',
            outcome: 'discarded-short',
            reason: `${deposit.durationMs} ms is shorter than the ${options.config.VM_MIN_MESSAGE_MS} ms minimum`,
            durationMs: deposit.durationMs,
            loudestDbfs: NaN,
          }
        : { kind: 'keep', durationMs: deposit.durationMs };
    }
    // Staged audio gone on a retry: an earlier attempt stored or queued it already.
    if (isServiceError(error, 'bad-request')) return { kind: 'keep', durationMs: deposit.durationMs };
    throw error;
  }
  const loudestDbfs = Math.round(result.loudestFrameDbfs * 10) / 10;
  if (result.durationMs < options.config.VM_MIN_MESSAGE_MS) {
    return {
      kind: 'discard',
      outcome: 'discarded-short',
      reason: `${result.durationMs} ms is shorter than the ${options.config.VM_MIN_MESSAGE_MS} ms minimum`,
      durationMs: result.durationMs,
      loudestDbfs,
    };
  }
  if (result.loudestFrameDbfs < options.config.VM_SILENCE_THRESHOLD_DBFS) {
    return {
      kind: 'discard',
      outcome: 'discarded-silent',
      reason: `no sound above ${options.config.VM_SILENCE_THRESHOLD_DBFS} dBFS (loudest ${loudestDbfs} dBFS)`,
      durationMs: result.durationMs,
      loudestDbfs,
    };
  }
  return { kind: 'keep', durationMs: result.durationMs };
}

async function announce(options: DepositProcessorOptions, deposit: Deposit, outcome: Omit<DepositOutcome, 'depositId' | 'mailbox'>): Promise<void> {
  const announced: DepositOutcome = { depositId: deposit.depositId, mailbox: { did: deposit.did, uid: deposit.uid }, ...outcome };
  options.nc.publish(SUBJECTS.voicemail.depositOutcome, encodeJson(announced));
}

const now = () => new Date().toISOString();
