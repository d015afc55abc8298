/**
 * Transcription: what the caller said, as text, after the message is stored (docs/behaviour.md §2, §3).
 *
 * The deposit step, once a message is stored and its mail queued, puts a job on the JetStream
 * stream VM_TRANSCRIPTIONS when the mailbox's domain has transcription on. The transcriber (in
 * the voicemail service) takes it, hears the audio with its engine, puts the transcript into the
 * stored message (StorageApi.setTranscript) and, when the domain's mail waits for the text, sends
 * that mail with it. Nothing of the deposit waits for any of this: storage, MWI and a mail that
 * does not wait are done before the job exists.
 *
 * A mail that waits is queued twice: once by the deposit step with `awaitTranscriptUntil` (it goes
 * at that time, marked "no transcript", whatever became of the transcriber), and once by the
 * transcriber with the transcript (`mail` below, queued under `<mailId>.transcribed`). Whichever
 * settles the mail first in the transcript-claims bucket (BUCKETS.transcriptClaims) is the one
 * sent; the other is acknowledged and forgotten.
 */
import { z } from 'zod';
import type { JetStreamClient } from '@nats-io/jetstream';
import { LanguageSchema, MailboxSchema, MessageIdSchema } from './ids.js';
import { MailJobSchema, type MailJobInput } from './mail.js';
import { StagedAudioSchema } from './staging.js';
import { IsoTimeSchema } from './storage.js';
import { SUBJECTS } from './subjects.js';
import { describeIssues, ServiceError, toServiceError } from './errors.js';
import { encodeJson } from './rpc.js';

export const TranscriptionJobSchema = z
  .strictObject({
    /** The deposit's id: unique per recording, the job's de-duplication id. */
    jobId: z.string().regex(/^[A-Za-z0-9._-]{8,128}$/, 'is not a job id'),
    mailbox: MailboxSchema,
    /** The stored message: the transcript goes into it, and its audio is read from storage. */
    messageId: MessageIdSchema.optional(),
    /** The staged recording, when the message is only mailed (the waiting mail keeps it staged until it goes). */
    audio: StagedAudioSchema.optional(),
    /** The message's language (P-App-Param `lng`); an engine without a model for it skips the job. */
    language: LanguageSchema.optional(),
    durationMs: z.number().int().nonnegative(),
    /** The mail that waits for the transcript (the domain's "mail waits up to N s"), to be sent with it. */
    mail: MailJobSchema.optional(),
    enqueuedAt: IsoTimeSchema,
  })
  .refine((job) => job.messageId !== undefined || job.audio !== undefined, { message: 'needs a stored message or staged audio to hear', path: ['messageId'] });
export type TranscriptionJob = z.infer<typeof TranscriptionJobSchema>;
export type TranscriptionJobInput = Omit<z.input<typeof TranscriptionJobSchema>, 'mail'> & { mail?: MailJobInput };

/** The de-duplication id of the transcriber's copy of a waiting mail (beside the deposit step's, queued by mailId). */
export const transcribedMailQueueId = (mailId: string): string => `${mailId}.transcribed`;

/** Queues a job for the transcriber. Queuing the same jobId twice (a retried deposit) is de-duplicated by JetStream. */
export async function enqueueTranscription(js: JetStreamClient, job: TranscriptionJobInput): Promise<{ duplicate: boolean }> {
  const checked = TranscriptionJobSchema.safeParse(job);
  if (!checked.success) throw new ServiceError('bad-request', `transcription job: ${describeIssues(checked.error)}`);
  try {
    const ack = await js.publish(SUBJECTS.voicemail.transcribe, encodeJson(checked.data), { msgID: checked.data.jobId });
    return { duplicate: ack.duplicate };
  } catch (error) {
    throw new ServiceError('service-unavailable', `cannot queue transcription ${checked.data.jobId}: ${toServiceError(error).message}`, { cause: error });
  }
}
