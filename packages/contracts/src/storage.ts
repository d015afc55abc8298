/**
 * The storage API (docs/behaviour.md §6): messages and greetings per mailbox, reachable only over NATS.
 * Audio travels by staging (writes) and ranged chunk reads (see audio.ts), never in these payloads.
 */
import { z } from 'zod';
import { CallerSchema } from './caller.js';
import { endpoint } from './rpc.js';
import { SUBJECTS } from './subjects.js';
import {
  DomainIdSchema,
  EmailAddressSchema,
  GreetingTypeSchema,
  LanguageSchema,
  MailboxIdSchema,
  MailboxSchema,
  MessageIdSchema,
  SenderSchema,
} from './ids.js';
import { StagedAudioSchema } from './staging.js';

/** Most messages one list reply carries (each entry is at most ~700 bytes of JSON). */
export const LIST_PAGE_MAX = 1_000;

/**
 * Most messages one list reply carries when it carries their transcripts too (listMailbox with
 * `transcripts`): a transcript may be TRANSCRIPT_MAX_CHARS long, up to three bytes a character.
 */
export const LIST_PAGE_MAX_WITH_TRANSCRIPTS = 50;

/** Most messages a listing is told were heard in a session (still new for it). */
export const LIST_HEARD_MAX = 1_000;

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

/**
 * A mailbox's counts as storage keeps them in KV (services/storage/src/mailbox-counts.ts), with the
 * token of the listing that last set them (0: none, or kept before tokens existed).
 */
export const KeptMailboxCountsSchema = MailboxCountsSchema.extend({
  recount: z.number().int().nonnegative().default(0),
});
export type KeptMailboxCounts = z.infer<typeof KeptMailboxCountsSchema>;

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
  /** A copy forwarded from another mailbox (absent for a message a caller left). */
  forwardedFrom: MailboxSchema.optional(),
});
export type MessageInfo = z.infer<typeof MessageInfoSchema>;

export const GreetingInfoSchema = z.strictObject({
  mailbox: MailboxSchema,
  type: GreetingTypeSchema,
  size: z.number().int().nonnegative(),
  updatedAt: IsoTimeSchema,
  /** The temporary greeting's end: callers hear it until then (absent for other greetings). */
  until: IsoTimeSchema.optional(),
});
export type GreetingInfo = z.infer<typeof GreetingInfoSchema>;

/**
 * Greeting types with a meaning of their own (docs/behaviour.md §2): `temp` is the temporary
 * greeting ("on holiday until …", played before every other one until its end), `name` the
 * subscriber's recorded name (followed by the system's phrase when no greeting is recorded), `vm`
 * the greeting every other type falls back to.
 */
export const TEMPORARY_GREETING = 'temp';
export const NAME_GREETING = 'name';

/**
 * What callers of a mailbox hear, given the greeting type the proxy asked for: the first of the
 * temporary greeting (set and not expired), that type's greeting, the `vm` greeting, the recorded
 * name (followed by the system phrase), or nothing of the subscriber's own (the domain's and the
 * platform's defaults, media's prompt chain). One answer for the whole chain, so a call costs one
 * request. `version` is the greeting's time of recording (media keeps the audio by it);
 * `validUntil` is when the answer changes by itself (a temporary greeting ends).
 */
export const ResolvedGreetingSchema = z.strictObject({
  greeting: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('greeting'), type: GreetingTypeSchema, version: IsoTimeSchema }),
    z.strictObject({ kind: z.literal('name'), version: IsoTimeSchema }),
    z.strictObject({ kind: z.literal('default') }),
  ]),
  validUntil: IsoTimeSchema.optional(),
});
export type ResolvedGreeting = z.infer<typeof ResolvedGreetingSchema>;

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

/** Where a listing stands: a message's id and whether it is urgent (its place when urgent ones come first). */
export const ListCursorSchema = z.strictObject({ id: MessageIdSchema, urgent: z.boolean() });
export type ListCursor = z.infer<typeof ListCursorSchema>;

/**
 * Who owns a mailbox, as the caller's profile told it: where notices about the mailbox (full,
 * messages about to expire) are mailed, and in which language.
 */
export const MailboxOwnerSchema = z.strictObject({
  user: MailboxIdSchema,
  domain: DomainIdSchema,
  email: EmailAddressSchema.optional(),
  language: LanguageSchema.optional(),
});
export type MailboxOwner = z.infer<typeof MailboxOwnerSchema>;
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
  /** The mailbox's most messages (from the caller's profile, the domain or the platform). 0 = none. */
  maxMessages: z.number().int().nonnegative().optional(),
  /**
   * The limit was checked when the call started (the caller heard no "mailbox full"): the message
   * is stored even if the mailbox filled up meanwhile — a recorded message is never dropped — and
   * `maxMessages` serves only to tell the owner (`quotaWarnPercent`, `owner`).
   */
  admitted: z.boolean().default(false),
  /** The owner is told (a notice) when the mailbox passes this share of `maxMessages`, and when it is full. */
  quotaWarnPercent: z.number().int().min(1).max(100).optional(),
  owner: MailboxOwnerSchema.optional(),
});
export type CreateMessageRequest = z.input<typeof CreateMessageRequestSchema>;

export const ForwardMessageRequestSchema = z.strictObject({
  mailbox: MailboxSchema,
  id: MessageIdSchema,
  /** The mailbox it goes to; within the same domain (storage refuses another). */
  to: MailboxSchema,
  /** Recorded by the one forwarding it, played before the message. */
  introduction: StagedAudioSchema.optional(),
  /** The receiving mailbox's most messages; refused as `quota-exceeded` when full. 0 = none. */
  maxMessages: z.number().int().nonnegative().optional(),
});
export type ForwardMessageRequest = z.input<typeof ForwardMessageRequestSchema>;

/**
 * Storage's requests, taken by any of its instances (queue group). A read is asked again when no
 * answer came (`repeat`, rpc.ts); a change is asked once, as another instance would make it again.
 */
export const StorageApi = {
  createMessage: endpoint(
    SUBJECTS.storage.messageCreate,
    CreateMessageRequestSchema,
    z.strictObject({ message: MessageInfoSchema, counts: MailboxCountsSchema, created: z.boolean() }),
    // Ingesting an hour of audio from staging takes a while on a slow store.
    120_000,
  ),
  getMessage: endpoint(SUBJECTS.storage.messageGet, MessageRefSchema, z.strictObject({ message: MessageInfoSchema }), undefined, 'repeat'),
  deleteMessage: endpoint(SUBJECTS.storage.messageDelete, MessageRefSchema, z.strictObject({ deleted: z.boolean(), counts: MailboxCountsSchema })),
  markMessage: endpoint(
    SUBJECTS.storage.messageMark,
    z.strictObject({ mailbox: MailboxSchema, id: MessageIdSchema, read: z.boolean() }),
    z.strictObject({ message: MessageInfoSchema, counts: MailboxCountsSchema }),
  ),
  /**
   * Newest first, a page at a time: a reply must fit in one NATS message (1 MiB), and a
   * message's entry is a few hundred bytes, so pages hold at most LIST_PAGE_MAX messages.
   */
  /**
   * A copy of a message as a new message of another mailbox of the domain (with the introduction
   * before it), counted there and announced for MWI like any new message.
   */
  forwardMessage: endpoint(
    SUBJECTS.storage.messageForward,
    ForwardMessageRequestSchema,
    z.strictObject({ message: MessageInfoSchema, counts: MailboxCountsSchema }),
    60_000,
  ),
  listMailbox: endpoint(
    SUBJECTS.storage.mailboxList,
    z
      .strictObject({
        mailbox: MailboxSchema,
        offset: z.number().int().nonnegative().default(0),
        limit: z.number().int().positive().max(LIST_PAGE_MAX).default(LIST_PAGE_MAX),
        /** With each message's transcript; then at most LIST_PAGE_MAX_WITH_TRANSCRIPTS a page (give `limit`). */
        transcripts: z.boolean().default(false),
        /**
         * Only new or only saved messages. The messages of `heard` still count as new: a voicebox
         * session pages through the mailbox as it was when it began, the messages it heard included.
         */
        filter: z.enum(['all', 'new', 'saved']).default('all'),
        heard: z.array(MessageIdSchema).max(LIST_HEARD_MAX).default([]),
        order: z.enum(['newest-first', 'oldest-first']).default('newest-first'),
        /** Urgent messages before the others (each group in `order`). */
        urgentFirst: z.boolean().default(false),
        /** The messages after this place (the next page), or before it (the previous page: the last `limit` before it). */
        after: ListCursorSchema.optional(),
        before: ListCursorSchema.optional(),
        /** The last `limit` messages (the end of the listing). */
        fromEnd: z.boolean().default(false),
      })
      .refine((req) => !req.transcripts || req.limit <= LIST_PAGE_MAX_WITH_TRANSCRIPTS, {
        message: `with transcripts, a page holds at most ${LIST_PAGE_MAX_WITH_TRANSCRIPTS} messages`,
        path: ['limit'],
      }),
    z.strictObject({ messages: z.array(MessageInfoSchema), total: z.number().int().nonnegative() }),
    15_000,
    'repeat',
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
    undefined,
    'repeat',
  ),
  putGreeting: endpoint(
    SUBJECTS.storage.greetingPut,
    z.strictObject({
      mailbox: MailboxSchema,
      type: GreetingTypeSchema,
      audio: StagedAudioSchema,
      /** For the temporary greeting (`temp`): when it ends; required for it, refused for any other. */
      until: IsoTimeSchema.optional(),
    }),
    z.strictObject({ greeting: GreetingInfoSchema }),
    60_000,
  ),
  getGreeting: endpoint(SUBJECTS.storage.greetingGet, GreetingRefSchema, z.strictObject({ greeting: GreetingInfoSchema }), undefined, 'repeat'),
  /** Which of the mailbox's greetings callers hear for the type the proxy asked for (ResolvedGreetingSchema). */
  resolveGreeting: endpoint(SUBJECTS.storage.greetingResolve, GreetingRefSchema, ResolvedGreetingSchema, undefined, 'repeat'),
  deleteGreeting: endpoint(SUBJECTS.storage.greetingDelete, GreetingRefSchema, z.strictObject({ deleted: z.boolean() })),
} as const;
