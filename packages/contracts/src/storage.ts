/**
 * The storage API (docs/behaviour.md §6): messages and greetings per mailbox, reachable only over NATS.
 * Audio travels by staging (writes) and ranged chunk reads (see audio.ts), never in these payloads.
 */
import { z } from 'zod';
import { CallerSchema } from './caller.js';
import { endpoint } from './rpc.js';
import { SUBJECTS } from './subjects.js';
import { GreetingTypeSchema, LanguageSchema, MailboxSchema, MessageIdSchema, SenderSchema } from './ids.js';
import { StagedAudioSchema } from './staging.js';

/** Most messages one list reply carries (each entry is at most ~700 bytes of JSON). */
export const LIST_PAGE_MAX = 1_000;

/**
 * Most messages one list reply carries when it carries their transcripts too (listMailbox with
 * `transcripts`): a transcript may be TRANSCRIPT_MAX_CHARS long, up to three bytes a character.
 */
export const LIST_PAGE_MAX_WITH_TRANSCRIPTS = 50;

/** Instances of the storage service share requests in this queue group. */
export const STORAGE_QUEUE = 'storage';

export const IsoTimeSchema = z.iso.datetime({ offset: true });

/** An RTP codec name as in SDP, optionally with clock rate and channels: PCMU, G722, opus/48000/2. */
export const CodecSchema = z
  .string()
  .max(32)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*(?:\/\d{1,6}(?:\/\d{1,2})?)?$/, 'is not a codec name');

export const MailboxCountsSchema = z.strictObject({
  new: z.number().int().nonnegative(),
  saved: z.number().int().nonnegative(),
  urgentNew: z.number().int().nonnegative(),
  urgentSaved: z.number().int().nonnegative(),
});
export type MailboxCounts = z.infer<typeof MailboxCountsSchema>;

/** The longest transcript kept: about five minutes of speech (the transcriber cuts a longer one, marked with "…"). */
export const TRANSCRIPT_MAX_CHARS = 5_000;

/** Why a message has no transcript (docs/behaviour.md §3): short codes a mail template or an API client can word. */
export const NO_TRANSCRIPT_REASONS = ['engine-failed', 'timed-out', 'language-not-supported', 'nothing-recognised', 'audio-unavailable'] as const;
export type NoTranscriptReason = (typeof NO_TRANSCRIPT_REASONS)[number];

/** What the caller said, as the transcription engine heard it; or that there is no transcript, and why. */
export const TranscriptSchema = z.discriminatedUnion('status', [
  z.strictObject({
    status: z.literal('done'),
    text: z.string().min(1).max(TRANSCRIPT_MAX_CHARS),
    /** The language the engine was asked to hear (the message's, as a tag: `en`). */
    language: LanguageSchema,
    /** Which engine (and model) heard it: `pocketsphinx`, `whisper-1`, … */
    engine: z.string().min(1).max(64),
    at: IsoTimeSchema,
  }),
  z.strictObject({
    status: z.literal('none'),
    reason: z.enum(NO_TRANSCRIPT_REASONS),
    at: IsoTimeSchema,
  }),
]);
export type Transcript = z.infer<typeof TranscriptSchema>;

export const MessageInfoSchema = z.strictObject({
  id: MessageIdSchema,
  mailbox: MailboxSchema,
  /** Caller identity (the From URI, or P-App-Param `snd`). */
  sender: SenderSchema,
  /** The caller as a person; absent for messages from before it was kept. */
  caller: CallerSchema.optional(),
  /** When the recording started. */
  recordedAt: IsoTimeSchema,
  durationMs: z.number().int().nonnegative(),
  /** The caller's codec; the stored audio is always WAV. */
  codec: CodecSchema,
  urgent: z.boolean(),
  /** Heard: a read message counts as saved, an unread one as new. */
  read: z.boolean(),
  /** Size of the stored audio in bytes. */
  size: z.number().int().nonnegative(),
  /** What the caller said (transcription on for the domain), once the transcriber is done; lists carry it only when asked. */
  transcript: TranscriptSchema.optional(),
});
export type MessageInfo = z.infer<typeof MessageInfoSchema>;

export const GreetingInfoSchema = z.strictObject({
  mailbox: MailboxSchema,
  type: GreetingTypeSchema,
  size: z.number().int().nonnegative(),
  updatedAt: IsoTimeSchema,
});
export type GreetingInfo = z.infer<typeof GreetingInfoSchema>;

/**
 * Said by storage whenever a greeting is recorded or deleted, so that those who keep what they
 * looked up (voicemail's greetings.ts) ask again. Not durable: a lost one only makes a kept answer
 * live out its time.
 */
export const GreetingChangedEventSchema = z.strictObject({
  mailbox: MailboxSchema,
  type: GreetingTypeSchema,
  change: z.enum(['recorded', 'deleted']),
  at: IsoTimeSchema,
});
export type GreetingChangedEvent = z.infer<typeof GreetingChangedEventSchema>;

const MessageRefSchema = z.strictObject({ mailbox: MailboxSchema, id: MessageIdSchema });
const GreetingRefSchema = z.strictObject({ mailbox: MailboxSchema, type: GreetingTypeSchema });

export const CreateMessageRequestSchema = z.strictObject({
  mailbox: MailboxSchema,
  sender: SenderSchema,
  caller: CallerSchema.optional(),
  recordedAt: IsoTimeSchema,
  durationMs: z.number().int().nonnegative(),
  codec: CodecSchema,
  urgent: z.boolean().default(false),
  audio: StagedAudioSchema,
  /**
   * Makes create idempotent: the same key (with the same recordedAt) always yields the same
   * message id, so a retry after a crash stores the message once. Use the staged audio name.
   */
  idempotencyKey: z.string().min(1).max(128).optional(),
  /** Per-mailbox quota from the caller's profile; overrides the configured default. 0 = none. */
  maxMessages: z.number().int().nonnegative().optional(),
});
export type CreateMessageRequest = z.input<typeof CreateMessageRequestSchema>;

export const StorageApi = {
  createMessage: endpoint(
    SUBJECTS.storage.messageCreate,
    CreateMessageRequestSchema,
    z.strictObject({ message: MessageInfoSchema, counts: MailboxCountsSchema, created: z.boolean() }),
    // Ingesting an hour of audio from staging takes a while on a slow store.
    120_000,
  ),
  getMessage: endpoint(SUBJECTS.storage.messageGet, MessageRefSchema, z.strictObject({ message: MessageInfoSchema })),
  deleteMessage: endpoint(
    SUBJECTS.storage.messageDelete,
    MessageRefSchema,
    z.strictObject({ deleted: z.boolean(), counts: MailboxCountsSchema }),
  ),
  markMessage: endpoint(
    SUBJECTS.storage.messageMark,
    z.strictObject({ mailbox: MailboxSchema, id: MessageIdSchema, read: z.boolean() }),
    z.strictObject({ message: MessageInfoSchema, counts: MailboxCountsSchema }),
  ),
  /**
   * Newest first, a page at a time: a reply must fit in one NATS message (1 MiB), and a
   * message's entry is a few hundred bytes, so pages hold at most LIST_PAGE_MAX messages.
   */
  listMailbox: endpoint(
    SUBJECTS.storage.mailboxList,
    z
      .strictObject({
        mailbox: MailboxSchema,
        offset: z.number().int().nonnegative().default(0),
        limit: z.number().int().positive().max(LIST_PAGE_MAX).default(LIST_PAGE_MAX),
        /** With each message's transcript; then at most LIST_PAGE_MAX_WITH_TRANSCRIPTS a page (give `limit`). */
        transcripts: z.boolean().default(false),
      })
      .refine((req) => !req.transcripts || req.limit <= LIST_PAGE_MAX_WITH_TRANSCRIPTS, {
        message: `with transcripts, a page holds at most ${LIST_PAGE_MAX_WITH_TRANSCRIPTS} messages`,
        path: ['limit'],
      }),
    z.strictObject({ messages: z.array(MessageInfoSchema), total: z.number().int().nonnegative() }),
    15_000,
  ),
  /**
   * Puts the transcriber's result into a stored message (its metadata), and announces it on
   * vm.mailbox.transcribed. Setting it again replaces it. A message deleted meanwhile is not found.
   */
  setTranscript: endpoint(
    SUBJECTS.storage.messageTranscript,
    z.strictObject({ mailbox: MailboxSchema, id: MessageIdSchema, transcript: TranscriptSchema }),
    z.strictObject({ message: MessageInfoSchema }),
  ),
  countMailbox: endpoint(
    SUBJECTS.storage.mailboxCount,
    z.strictObject({ mailbox: MailboxSchema }),
    z.strictObject({ counts: MailboxCountsSchema }),
  ),
  putGreeting: endpoint(
    SUBJECTS.storage.greetingPut,
    z.strictObject({ mailbox: MailboxSchema, type: GreetingTypeSchema, audio: StagedAudioSchema }),
    z.strictObject({ greeting: GreetingInfoSchema }),
    60_000,
  ),
  getGreeting: endpoint(SUBJECTS.storage.greetingGet, GreetingRefSchema, z.strictObject({ greeting: GreetingInfoSchema })),
  deleteGreeting: endpoint(
    SUBJECTS.storage.greetingDelete,
    GreetingRefSchema,
    z.strictObject({ deleted: z.boolean() }),
  ),
} as const;
