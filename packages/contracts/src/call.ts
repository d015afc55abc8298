/**
 * Call events between signaling, media and the applications.
 *
 * SKETCH: the shape later issues extend (signaling, media, voicemail, voicebox). Each call gets a
 * `callRef`, a token safe for subjects and KV keys, alongside the SIP Call-ID used in logs.
 */
import { z } from 'zod';
import {
  CallIdSchema,
  EmailAddressSchema,
  GreetingTypeSchema,
  LanguageSchema,
  DomainIdSchema,
  MailboxIdSchema,
  SenderSchema,
} from './ids.js';
import { PinVerifierSchema } from './pin.js';
import { IsoTimeSchema } from './storage.js';
import { INSTANCE_ID_PATTERN, SUBJECTS } from './subjects.js';
import { instanceEndpoint } from './rpc.js';

export const APPLICATIONS = ['voicemail', 'voicebox', 'annrecorder'] as const;
export const ApplicationSchema = z.enum(APPLICATIONS);
export type Application = z.infer<typeof ApplicationSchema>;

export const CallRefSchema = z.string().regex(/^[A-Za-z0-9]{8,64}$/, 'is not a call reference');
export const InstanceIdSchema = z.string().regex(INSTANCE_ID_PATTERN, 'is not an instance id');

/** voicemail modes by name; SEMS numbers 0–3 are mapped to these by the P-App-Param parser. */
export const VOICEMAIL_MODES = ['voicemail', 'box', 'both', 'ann'] as const;
export const VoicemailModeSchema = z.enum(VOICEMAIL_MODES);
export type VoicemailMode = z.infer<typeof VoicemailModeSchema>;

/** The callee's profile from P-App-Param (SPEC §1), validated and with defaults applied. */
export const AppParamsSchema = z.strictObject({
  user: MailboxIdSchema,
  domain: DomainIdSchema,
  uid: MailboxIdSchema,
  did: DomainIdSchema,
  sender: SenderSchema,
  email: EmailAddressSchema.optional(),
  mode: VoicemailModeSchema.optional(),
  language: LanguageSchema.optional(),
  greetingType: GreetingTypeSchema,
  /** The voicebox PIN, sealed by signaling (pin.ts): the PIN itself never travels. */
  pin: PinVerifierSchema.optional(),
  /** Extra keys listed in configuration (mail template variables). */
  extra: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.string().max(512)).default({}),
});
export type AppParams = z.infer<typeof AppParamsSchema>;

export const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'] as const;
export const DigitSchema = z.enum(DIGITS);
export type Digit = z.infer<typeof DigitSchema>;

const CallBase = {
  callRef: CallRefSchema,
  callId: CallIdSchema,
  at: IsoTimeSchema,
};

export const CallStartedEventSchema = z.strictObject({
  ...CallBase,
  app: ApplicationSchema,
  params: AppParamsSchema,
  /** The signaling instance holding the dialog: commands for this call go there. */
  signalingInstance: InstanceIdSchema,
  /** The media instance holding the rtpengine session. */
  mediaInstance: InstanceIdSchema,
  /** Caller's codec as negotiated, e.g. PCMU. */
  codec: z.string().max(32),
  /** From P-Final-Reply-Code / -Reason, for ann mode with early media. */
  finalReply: z.strictObject({ code: z.number().int().min(300).max(699), reason: z.string().max(128) }).optional(),
});
export type CallStartedEvent = z.infer<typeof CallStartedEventSchema>;

export const DigitEventSchema = z.strictObject({
  ...CallBase,
  digit: DigitSchema,
  source: z.enum(['rfc4733', 'sip-info', 'inband']),
});
export type DigitEvent = z.infer<typeof DigitEventSchema>;

export const CALL_END_REASONS = ['caller-hangup', 'app-hangup', 'media-timeout', 'error', 'cancelled'] as const;

export const CallEndedEventSchema = z.strictObject({
  ...CallBase,
  reason: z.enum(CALL_END_REASONS),
});
export type CallEndedEvent = z.infer<typeof CallEndedEventSchema>;

export const PlaybackFinishedEventSchema = z.strictObject({
  ...CallBase,
  playbackId: z.string(),
  reason: z.enum(['completed', 'stopped', 'failed']),
  /** When the recording asked for with `thenRecord` started; absent if it could not be started. */
  recordingStartedAt: IsoTimeSchema.optional(),
});
export type PlaybackFinishedEvent = z.infer<typeof PlaybackFinishedEventSchema>;

/** Commands to the signaling instance that holds a call's dialog. */
export const SignalingApi = {
  /** Ends the call with BYE (answered) or a final error reply (not yet answered). Idempotent. */
  hangup: instanceEndpoint(
    SUBJECTS.signaling.hangup,
    z.strictObject({ callRef: CallRefSchema, reason: z.string().max(128).optional() }),
    z.strictObject({ ended: z.boolean() }),
  ),
  /** After an early-media announcement: the final error reply (P-Final-Reply-Code/-Reason). */
  finalReply: instanceEndpoint(
    SUBJECTS.signaling.finalReply,
    z.strictObject({ callRef: CallRefSchema, code: z.number().int().min(300).max(699), reason: z.string().max(128) }),
    z.strictObject({ sent: z.boolean() }),
  ),
} as const;
