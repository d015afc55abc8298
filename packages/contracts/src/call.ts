/**
 * Call events between signaling, media and the applications.
 *
 * Each call gets a
 * `callRef`, a token safe for subjects and KV keys, alongside the SIP Call-ID used in logs.
 */
import { z } from 'zod';
import { CallIdSchema, EmailAddressSchema, GreetingTypeSchema, LanguageSchema, DomainIdSchema, MailboxIdSchema, SenderSchema, SipUriSchema } from './ids.js';
import { CallerSchema } from './caller.js';
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

/** The callee's profile from P-App-Param (docs/behaviour.md §1), validated and with defaults applied. */
export const AppParamsSchema = z.strictObject({
  user: MailboxIdSchema,
  domain: DomainIdSchema,
  uid: MailboxIdSchema,
  did: DomainIdSchema,
  sender: SenderSchema,
  /** The caller as a person (From display name, number, privacy); absent from signaling before it was known. */
  caller: CallerSchema.optional(),
  email: EmailAddressSchema.optional(),
  mode: VoicemailModeSchema.optional(),
  language: LanguageSchema.optional(),
  greetingType: GreetingTypeSchema,
  /** The voicebox PIN, sealed by signaling (pin.ts): the PIN itself never travels. */
  pin: PinVerifierSchema.optional(),
  /** Where `0` transfers the caller (voicemail); else the domain's configured operator. */
  operator: SipUriSchema.optional(),
  /** Seconds of silence that end a recording (voicemail), 0 for never; else the domain's or the platform's setting. */
  maxSilenceS: z
    .number({ error: 'must be whole seconds, 0 to 600' })
    .int('must be whole seconds, 0 to 600')
    .min(0, 'must be whole seconds, 0 to 600')
    .max(600, 'must be whole seconds, 0 to 600')
    .optional(),
  /** The most messages the mailbox holds (voicemail), 0 for no limit; else the domain's or the platform's. */
  maxMessages: z
    .number({ error: 'must be a number of messages, 0 to 100000' })
    .int('must be a number of messages, 0 to 100000')
    .min(0, 'must be a number of messages, 0 to 100000')
    .max(100_000, 'must be a number of messages, 0 to 100000')
    .optional(),
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

export const CallStartedEventSchema = z
  .strictObject({
    ...CallBase,
    app: ApplicationSchema,
    params: AppParamsSchema,
    /** The signaling instance holding the dialog: commands for this call go there. */
    signalingInstance: InstanceIdSchema,
    /** The media instance holding the rtpengine session. */
    mediaInstance: InstanceIdSchema,
    /**
     * The media node of that session (its rtpengine): when the instance is gone, another one of the
     * same node delivers the recording.
     */
    mediaNode: InstanceIdSchema,
    /** Caller's codec as negotiated, e.g. PCMU. */
    codec: z.string().max(32),
    /**
     * Answered with early media (183, an announcement: signaling's ANN_EARLY_MEDIA): the call has no
     * dialog and ends with `finalReply`, not a hang-up.
     */
    earlyMedia: z.boolean(),
    /**
     * The final reply that ends an early-media call (P-Final-Reply-Code / -Reason, else signaling's
     * ANN_FINAL_REPLY_*): present exactly when `earlyMedia`.
     */
    finalReply: z.strictObject({ code: z.number().int().min(300).max(699), reason: z.string().max(128) }).optional(),
  })
  .refine((event) => event.earlyMedia === (event.finalReply !== undefined), {
    message: 'finalReply is given exactly when earlyMedia is',
    path: ['finalReply'],
  });
export type CallStartedEvent = z.infer<typeof CallStartedEventSchema>;

export const DigitEventSchema = z.strictObject({
  ...CallBase,
  digit: DigitSchema,
  source: z.enum(['rfc4733', 'sip-info', 'inband']),
});
export type DigitEvent = z.infer<typeof DigitEventSchema>;

/** `transferred`: the caller went on to another party (REFER accepted and carried out). */
export const CALL_END_REASONS = ['caller-hangup', 'app-hangup', 'transferred', 'media-timeout', 'error', 'cancelled'] as const;

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

/**
 * How a caller is transferred: `refer` asks the caller's side to call the target (REFER, RFC 3515;
 * the caller's phone or the carrier's SBC carries it out); `bridge` has the platform call the
 * target through its outbound proxy and connect the caller to that call (for callers that cannot
 * take a REFER, e.g. PSTN gateways).
 */
export const TRANSFER_METHODS = ['refer', 'bridge'] as const;
export const TransferMethodSchema = z.enum(TRANSFER_METHODS);
export type TransferMethod = z.infer<typeof TransferMethodSchema>;

/** Longest a transfer command may take: signaling's own bound (TRANSFER_TIMEOUT_MS) stays below it. */
export const TRANSFER_REPLY_TIMEOUT_MS = 75_000;

/**
 * The start of a call, handed to its application with confirmation: signaling asks until an
 * instance answers that it holds the call. As a bare event it was lost whenever no instance was
 * subscribed at that moment (all reconnecting after a NATS server died, or restarting), and the
 * caller heard silence. Answered once the call's record exists (a repeated start too); observers
 * that are not the application may see it and never answer.
 */
export const CallApi = {
  // Shared by the application's instances; signaling offers the call again itself until one takes it.
  start: instanceEndpoint(SUBJECTS.call.started, CallStartedEventSchema, z.strictObject({ taken: z.literal(true) }), 3_000, 'once'),
};

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
  /**
   * Transfers the caller to `target` and replies when the outcome is known. `transferred`: with
   * `refer` the caller's side reached the target (or accepted the REFER and the wait ran out) and
   * the platform's dialog has ended (call ended, reason `transferred`); with `bridge` the target
   * answered and the caller is connected to it (the call ends when either side hangs up).
   * `failed`: the call goes on as before, `status` says why when SIP did.
   */
  transfer: instanceEndpoint(
    SUBJECTS.signaling.transfer,
    z.strictObject({ callRef: CallRefSchema, target: SipUriSchema, method: TransferMethodSchema }),
    z.strictObject({
      outcome: z.enum(['transferred', 'failed']),
      status: z.number().int().min(100).max(699).optional(),
      reason: z.string().max(128).optional(),
    }),
    TRANSFER_REPLY_TIMEOUT_MS,
  ),
} as const;
