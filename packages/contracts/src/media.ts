/**
 * Requests to the media service (rtpengine owner).
 *
 * SKETCH: the media issue extends and completes these. A session is opened by signaling on any
 * media instance; every later command goes to that instance (SUBJECTS.media.*(instance)).
 */
import { z } from 'zod';
import { endpoint } from './rpc.js';
import { SUBJECTS } from './subjects.js';
import { CallIdSchema, GreetingTypeSchema, LanguageSchema, MailboxSchema, MessageIdSchema } from './ids.js';
import { ApplicationSchema, CallRefSchema, InstanceIdSchema } from './call.js';
import { StagedAudioSchema } from './audio.js';

export const MEDIA_QUEUE = 'media';

/** What can be played: a prompt of the platform's set, stored audio, or a beep. */
export const PlayableSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('prompt'), name: z.string().regex(/^[a-z0-9_]{1,64}$/), language: LanguageSchema }),
  z.strictObject({ kind: z.literal('message'), mailbox: MailboxSchema, id: MessageIdSchema }),
  z.strictObject({ kind: z.literal('greeting'), mailbox: MailboxSchema, type: GreetingTypeSchema }),
  z.strictObject({ kind: z.literal('beep') }),
]);
export type Playable = z.infer<typeof PlayableSchema>;

export const OpenSessionRequestSchema = z.strictObject({
  callRef: CallRefSchema,
  callId: CallIdSchema,
  app: ApplicationSchema,
  sdpOffer: z.string().min(1).max(16_384),
});

export const MediaApi = {
  openSession: endpoint(
    SUBJECTS.media.sessionOpen,
    OpenSessionRequestSchema,
    z.strictObject({ mediaInstance: InstanceIdSchema, sdpAnswer: z.string(), codec: z.string() }),
  ),
} as const;

export const RecordingResultSchema = z.strictObject({
  callRef: CallRefSchema,
  audio: StagedAudioSchema,
  durationMs: z.number().int().nonnegative(),
  codec: z.string(),
});
