/**
 * The transcriber: a durable consumer of VM_TRANSCRIPTIONS in the voicemail service, beside the
 * deposit processor and the mail sender (docs/design.md, "Transcription"). For each job it hears
 * the message with the engine — a child process at low priority or an HTTP call, at most
 * TRANSCRIBE_CONCURRENCY at once per instance — and then
 *   1. sends the mail that waits for the text, with it, unless the mail's deadline came first
 *      (claims.ts), and
 *   2. puts the transcript into the stored message (storage announces it for webhooks).
 * Whatever goes wrong with the engine (not there, crashed, too slow, a language it has no model
 * for) gives the message a transcript of status `none`, never a lost message or mail. Only
 * storage or NATS trouble makes it try the job again later.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Counter, Histogram, type Registry } from 'prom-client';
import {
  decodeJson,
  enqueueMail,
  ensureStreams,
  isServiceError,
  openStagedAudio,
  readAudio,
  request,
  StorageApi,
  STREAMS,
  SUBJECTS,
  toServiceError,
  transcribedMailQueueId,
  TranscriptionJobSchema,
  type NoTranscriptReason,
  type StagingBucket,
  type Transcript,
  type TranscriptionJob,
} from '@sipvm/contracts';
import { callLogger, retryDelay, startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';
import type { TranscriptClaims } from './claims.js';
import { cleanText, EngineError, engineLanguage, type TranscriptionEngine } from './engine.js';

export const TRANSCRIBER_CONSUMER = 'voicemail-transcriber';
/** Storage or NATS away: the job is tried again after these (the last repeats). */
const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000];
const ACK_WAIT_MS = 60_000;

export interface TranscriberOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  staging: StagingBucket;
  engine: TranscriptionEngine;
  claims: TranscriptClaims;
  concurrency: number;
  timeoutMs: number;
  maxAgeMs: number;
  tmpDir: string;
  log: Logger;
  registry: Registry;
}

interface Metrics {
  outcomes: Counter<'outcome'>;
  audioSeconds: Counter;
  engineSeconds: Histogram;
}

export async function startTranscriber(options: TranscriberOptions): Promise<{ stop(): Promise<void> }> {
  await ensureStreams(options.jsm, ['transcriptions', 'mail']);
  const metrics: Metrics = {
    outcomes: new Counter({
      name: 'sipvm_transcriptions_total',
      help: 'Messages the transcriber settled: done, or why there is no transcript',
      labelNames: ['outcome'],
      registers: [options.registry],
    }),
    audioSeconds: new Counter({ name: 'sipvm_transcription_audio_seconds_total', help: 'Seconds of messages the engine heard', registers: [options.registry] }),
    engineSeconds: new Histogram({
      name: 'sipvm_transcription_engine_seconds',
      help: 'How long the engine took per message',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [options.registry],
    }),
  };
  childCpuCounter(options.registry);
  const worker = await startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.transcriptions.name,
    consumer: TRANSCRIBER_CONSUMER,
    filterSubject: SUBJECTS.voicemail.transcribe,
    concurrency: options.concurrency,
    ackWaitMs: ACK_WAIT_MS,
    log: options.log,
    handle: (msg) => transcribe(msg, options, metrics),
  });
  options.log.info({ engine: options.engine.name, languages: options.engine.languages, concurrency: options.concurrency }, 'transcriber started');
  return worker;
}

async function transcribe(msg: JsMsg, options: TranscriberOptions, metrics: Metrics): Promise<WorkOutcome> {
  let job: TranscriptionJob;
  try {
    job = decodeJson(TranscriptionJobSchema, msg.data, 'transcription job');
  } catch (error) {
    options.log.error({ err: toServiceError(error).message, seq: msg.seq }, 'malformed transcription job removed');
    return { kind: 'drop', reason: 'malformed transcription job' };
  }
  const log = callLogger(options.log, job.jobId).child({ jobId: job.jobId, mailbox: `${job.mailbox.uid}@${job.mailbox.did}`, messageId: job.messageId });
  try {
    // A job taken again after a crash: what the transcriber heard then, the waiting mail already carries.
    const settled = job.mail ? await options.claims.get(job.mail.mailId) : undefined;
    const transcript = settled?.by === 'transcriber' ? settled.transcript : await hear(job, options, metrics, log);

    if (job.mail) {
      const held = await options.claims.claim(job.mail.mailId, { by: 'transcriber', transcript });
      if (held.by === 'transcriber') {
        await enqueueMail(
          options.js,
          { ...job.mail, transcript: held.transcript, awaitTranscriptUntil: undefined },
          { queueId: transcribedMailQueueId(job.mail.mailId) },
        );
        log.info({ status: held.transcript.status }, 'mail queued with the transcript');
      } else {
        log.info('the mail went at its deadline, without the transcript');
      }
    }
    if (job.messageId) {
      try {
        await request(options.nc, StorageApi.setTranscript, { mailbox: job.mailbox, id: job.messageId, transcript });
      } catch (error) {
        if (!isServiceError(error, 'message-not-found') && !isServiceError(error, 'mailbox-not-found')) throw error;
        log.info('message deleted before its transcript arrived');
      }
    }
    log.info(
      transcript.status === 'done' ? { status: 'done', words: transcript.text.split(' ').length } : { status: 'none', reason: transcript.reason },
      'transcription settled',
    );
    return { kind: 'done' };
  } catch (error) {
    const delayMs = retryDelay(RETRY_DELAYS_MS, msg.info.deliveryCount);
    log.warn({ err: toServiceError(error).message, retryInMs: delayMs }, 'transcription not settled; will retry');
    return { kind: 'retry', delayMs };
  }
}

/** What the engine heard, or why nothing: engine trouble is an answer, storage or NATS trouble throws (retry). */
async function hear(job: TranscriptionJob, options: TranscriberOptions, metrics: Metrics, log: Logger): Promise<Transcript> {
  const none = (reason: NoTranscriptReason): Transcript => {
    metrics.outcomes.inc({ outcome: reason });
    return { status: 'none', reason, at: new Date().toISOString() };
  };
  if (Date.now() - Date.parse(job.enqueuedAt) > options.maxAgeMs) {
    log.warn({ enqueuedAt: job.enqueuedAt }, 'waited too long for the transcriber; not heard');
    return none('timed-out');
  }
  const language = engineLanguage(options.engine, job.language);
  if (language === undefined) {
    log.info({ language: job.language, engineLanguages: options.engine.languages }, "no model for the message's language; not heard");
    return none('language-not-supported');
  }
  const workDir = await mkdtemp(join(options.tmpDir, 'sipvm-transcribe-'));
  try {
    const wavFile = join(workDir, 'message.wav');
    try {
      await fetchAudio(job, options, wavFile);
    } catch (error) {
      // Deleted meanwhile, or (mail only) its mail went and took the staged audio with it.
      if (isServiceError(error, 'message-not-found') || isServiceError(error, 'mailbox-not-found') || isServiceError(error, 'bad-request')) {
        log.info({ err: toServiceError(error).message }, "the message's audio is gone; not heard");
        return none('audio-unavailable');
      }
      throw error;
    }
    const started = performance.now();
    let words: string;
    try {
      words = await options.engine.hear({ wavFile, workDir, language, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        log.warn({ timeoutMs: options.timeoutMs }, 'the engine took too long; no transcript');
        return none('timed-out');
      }
      log.warn({ err: error instanceof EngineError ? error.message : String(error), engine: options.engine.name }, 'the engine failed; no transcript');
      return none('engine-failed');
    } finally {
      metrics.engineSeconds.observe((performance.now() - started) / 1000);
    }
    metrics.audioSeconds.inc(job.durationMs / 1000);
    const text = cleanText(words);
    if (text === '') return none('nothing-recognised');
    metrics.outcomes.inc({ outcome: 'done' });
    return { status: 'done', text, language, engine: options.engine.name, at: new Date().toISOString() };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The message's audio into a file: from storage when it is stored, else from staging. */
async function fetchAudio(job: TranscriptionJob, options: TranscriberOptions, file: string): Promise<void> {
  const source =
    job.messageId !== undefined
      ? Readable.from(readAudio(options.nc, { kind: 'message', mailbox: job.mailbox, id: job.messageId }))
      : Readable.fromWeb((await openStagedAudio(options.staging, job.audio!)) as NodeReadableStream<Uint8Array>);
  await pipeline(source, createWriteStream(file));
}

/**
 * CPU time of the service's finished child processes — the engine's, as nothing else in the
 * service runs one — from the kernel's own account (/proc/self/stat: cutime and cstime, in ticks
 * of 1/100 s). With `sipvm_transcription_audio_seconds_total`: the engine's CPU per second of audio.
 */
function childCpuCounter(registry: Registry): void {
  let reported = 0;
  new Counter({
    name: 'sipvm_transcription_engine_cpu_seconds_total',
    help: "CPU seconds used by the engine's child processes (pocketsphinx, sox)",
    registers: [registry],
    async collect() {
      const total = await childCpuSeconds();
      if (total > reported) this.inc(total - reported);
      reported = Math.max(reported, total);
    },
  });
}

export async function childCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces, inside parentheses): cutime and cstime are the 16th and 17th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13] ?? 0) + Number(fields[14] ?? 0)) / 100;
}
