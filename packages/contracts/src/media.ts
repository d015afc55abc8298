/**
 * Requests to the media service, the only owner of rtpengine.
 *
 * A session is opened by signaling on any media instance of its own node (queue group per node);
 * the reply names the instance, and every later command for that call goes to it
 * (SUBJECTS.media.*(instance)). Per node, because a node's signaling, drachtio-server, media and
 * rtpengine take a call together: a proxy's health check of the node must mean its own media, and
 * a recording can only be delivered beside the rtpengine that wrote it.
 * Playback completion and digits come back as call events (see call.ts), per application.
 */
import { z } from 'zod';
import { instanceEndpoint } from './rpc.js';
import { SUBJECTS } from './subjects.js';
import { CallIdSchema, GreetingTypeSchema, LanguageSchema, MailboxIdSchema, MailboxSchema, MessageIdSchema } from './ids.js';
import { ApplicationSchema, CallRefSchema, InstanceIdSchema } from './call.js';
import { StagedAudioSchema } from './staging.js';
import { IsoTimeSchema } from './storage.js';

export const MEDIA_QUEUE = 'media';

export const PromptNameSchema = z.string().regex(/^[a-z0-9_]{1,64}$/, 'is not a prompt name');

/** What can be played into a call. */
export const PlayableSchema = z.discriminatedUnion('kind', [
  /**
   * A prompt of the platform's set. With `domain`, an operator's recording for that domain is
   * preferred (docs/behaviour.md §2: domain default → platform default for the language → platform default).
   */
  z.strictObject({ kind: z.literal('prompt'), name: PromptNameSchema, language: LanguageSchema, domain: MailboxIdSchema.optional() }),
  /** A number spoken in the language (message counts), composed from the prompt set. */
  z.strictObject({ kind: z.literal('number'), value: z.number().int().min(0).max(9999), language: LanguageSchema }),
  z.strictObject({ kind: z.literal('message'), mailbox: MailboxSchema, id: MessageIdSchema }),
  /**
   * A personal greeting. With `version` (storage's `updatedAt` of it), media may play the copy it
   * fetched before for the same version instead of fetching it again.
   */
  z.strictObject({ kind: z.literal('greeting'), mailbox: MailboxSchema, type: GreetingTypeSchema, version: z.string().max(64).optional() }),
  z.strictObject({ kind: z.literal('beep') }),
  /** Audio staged by media itself (e.g. a just-recorded greeting played back for confirmation). */
  z.strictObject({ kind: z.literal('staged'), audio: StagedAudioSchema }),
]);
export type Playable = z.infer<typeof PlayableSchema>;

const SessionRefSchema = z.strictObject({ callRef: CallRefSchema });

/**
 * Sustained silence ends the recording: media watches the caller's audio while it is recorded and
 * stops the recording once no 20 ms frame was as loud as `thresholdDbfs` for `silenceMs`
 * (`recording-finished` with reason `silence`); the recording is then delivered without that
 * trailing silence. Applies to G.711 callers (PCMU, PCMA); other codecs record as before.
 */
export const EndOnSilenceSchema = z.strictObject({
  silenceMs: z.number().int().min(500).max(600_000),
  thresholdDbfs: z.number().min(-120).max(0),
});
export type EndOnSilence = z.infer<typeof EndOnSilenceSchema>;

/** What a recording is asked for: its maximum length and, optionally, the silence that ends it. */
const RecordingLimitsShape = {
  maxDurationMs: z.number().int().positive().max(3_600_000),
  endOnSilence: EndOnSilenceSchema.optional(),
};

export const OpenSessionRequestSchema = z.strictObject({
  callRef: CallRefSchema,
  callId: CallIdSchema,
  app: ApplicationSchema,
  sdpOffer: z.string().min(1).max(16_384),
});

export const RecordingSchema = z.strictObject({
  audio: StagedAudioSchema,
  startedAt: IsoTimeSchema,
  durationMs: z.number().int().nonnegative(),
  /** The caller's codec, e.g. PCMU; the staged audio is WAV. */
  codec: z.string(),
  /**
   * Level of the loudest 20 ms frame in dBFS (−120 for digital silence), measured while the
   * recording was converted, so nobody needs to read the audio again to tell silence from speech.
   */
  loudestDbfs: z.number().min(-120).max(0).optional(),
});
export type Recording = z.infer<typeof RecordingSchema>;

const StopRecordingRequestSchema = z.strictObject({ callRef: CallRefSchema, discard: z.boolean().default(false) });
const StopRecordingResultSchema = z.strictObject({ recording: RecordingSchema.nullable() });

export const MediaApi = {
  /** Opens a session on a media instance of the node (`openSession(node)`). */
  openSession: instanceEndpoint(
    SUBJECTS.media.sessionOpen,
    OpenSessionRequestSchema,
    z.strictObject({
      mediaInstance: InstanceIdSchema,
      sdpAnswer: z.string(),
      codec: z.string(),
      /**
       * How long of the answer media spent waiting for NATS to elect a leader for its state (a
       * NATS server died): not load, so admission control leaves it out.
       */
      natsWaitMs: z.number().int().min(0).optional(),
    }),
    undefined,
    // A repeat could reach another instance of the node and open a second session.
    'once',
  ),
  /**
   * Whether a media instance of the node can open a session now (its rtpengine answers).
   * Signaling asks its own node, so that its readiness and its OPTIONS answer, which proxies route
   * by, mean "a call to this node would work".
   */
  status: instanceEndpoint(SUBJECTS.media.status, z.strictObject({}), z.strictObject({ mediaInstance: InstanceIdSchema, ready: z.boolean() }), 1_000),
  /** Re-INVITE (hold, unhold, codec change): a new offer for the same session. */
  updateSession: instanceEndpoint(
    SUBJECTS.media.sessionUpdate,
    z.strictObject({ callRef: CallRefSchema, sdpOffer: z.string().min(1).max(16_384) }),
    z.strictObject({ sdpAnswer: z.string() }),
  ),
  /**
   * Ends the rtpengine session. Idempotent. A recording still running is stopped (rtpengine stops
   * writing) but kept until its state expires, so `stopRecording` after a hang-up still delivers it
   * (a message is never lost when the caller hangs up first); `stopRecording` with `discard` drops it.
   */
  closeSession: instanceEndpoint(SUBJECTS.media.sessionClose, SessionRefSchema, z.strictObject({ closed: z.boolean() })),
  /**
   * Plays items one after the other. `replace` stops what is playing; `enqueue` appends.
   * Replies at once; `playback-finished` with the same playbackId follows when it ends.
   */
  play: instanceEndpoint(
    SUBJECTS.media.play,
    z.strictObject({
      callRef: CallRefSchema,
      playbackId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      items: z.array(PlayableSchema).min(1).max(64),
      mode: z.enum(['replace', 'enqueue']).default('replace'),
      /**
       * Start recording the caller the moment this playback completes (a greeting and its beep):
       * no round trip between the beep and the first word. Not when it is stopped or replaced.
       * `playback-finished` then says when the recording started.
       */
      thenRecord: z.strictObject(RecordingLimitsShape).optional(),
    }),
    z.strictObject({ playbackId: z.string(), durationMs: z.number().int().nonnegative() }),
    15_000,
  ),
  stopPlayback: instanceEndpoint(SUBJECTS.media.stopPlayback, SessionRefSchema, z.strictObject({ stopped: z.boolean() })),
  startRecording: instanceEndpoint(
    SUBJECTS.media.recordStart,
    z.strictObject({ callRef: CallRefSchema, ...RecordingLimitsShape }),
    z.strictObject({ startedAt: IsoTimeSchema }),
  ),
  /**
   * Stops recording and stages the WAV (unless `discard`); null when nothing was recorded.
   * Safe to repeat: a second stop returns the same staged recording.
   * The WAV is 8 kHz mono 16-bit for every caller codec (PCMU, PCMA, G722, opus).
   */
  stopRecording: instanceEndpoint(SUBJECTS.media.recordStop, StopRecordingRequestSchema, StopRecordingResultSchema, 60_000),
  /**
   * The call is over and whatever it recorded was handed over (its record is gone): no stop will be
   * asked again, so a media instance of the node erases the call's recording instead of keeping it
   * until its state expires. Sent without waiting for the answer (`send`): a release that is lost costs
   * an entry kept until RECORDING_STATE_TTL_MS, nothing else.
   */
  releaseRecording: instanceEndpoint(SUBJECTS.media.recordRelease, SessionRefSchema, z.strictObject({ released: z.boolean() })),
  /**
   * Connecting the caller to another party (a transfer by `bridge`, see call.ts): an SDP offer for
   * the call the platform places to it — rtpengine's side that faces away from the caller, in the
   * caller's codec. `callerSdp` is the caller's current SDP. If that call fails, `updateSession`
   * with the caller's SDP puts the session back as it was.
   */
  bridgeOffer: instanceEndpoint(
    SUBJECTS.media.bridgeOffer,
    z.strictObject({ callRef: CallRefSchema, callerSdp: z.string().min(1).max(16_384) }),
    z.strictObject({ sdpOffer: z.string() }),
  ),
  /**
   * The party answered (`sdpAnswer`, its SDP): what plays stops and the caller and the party hear
   * each other through rtpengine. Replies with the SDP for the caller (for a re-INVITE meanwhile).
   */
  bridge: instanceEndpoint(
    SUBJECTS.media.bridge,
    z.strictObject({ callRef: CallRefSchema, sdpAnswer: z.string().min(1).max(16_384) }),
    z.strictObject({ sdpAnswer: z.string() }),
  ),
  /** The same, answered by any media instance of the node whose rtpengine recorded (after a restart). */
  stopRecordingOnNode: instanceEndpoint(
    SUBJECTS.media.recordStopOnNode,
    StopRecordingRequestSchema,
    StopRecordingResultSchema,
    60_000,
    // Shared by the node's instances: a repeat could start a second stop beside the first.
    'once',
  ),
} as const;

/**
 * Published on SUBJECTS.call.recordingFinished(app) when media stopped a recording by itself: its
 * maximum length was reached, or sustained silence ended it (`endOnSilence`). The app then calls
 * `stopRecording` to get the WAV.
 */
export const RecordingFinishedEventSchema = z.strictObject({
  callRef: CallRefSchema,
  callId: CallIdSchema,
  at: IsoTimeSchema,
  reason: z.enum(['max-duration', 'silence']),
  /** With `silence`: whether anything louder than the threshold was heard before it. */
  speech: z.boolean().optional(),
});
export type RecordingFinishedEvent = z.infer<typeof RecordingFinishedEventSchema>;
