/**
 * Webhooks on a new message, on its transcript arriving, and on notices about a mailbox (the web
 * service). A mailbox event `message-created` or a transcript's announcement (stream VM_MAILBOX),
 * or a notice (stream VM_MAILBOX_NOTICES: almost full, full, messages about to expire), becomes
 * one delivery per configured target on the work queue VM_WEBHOOKS; the web
 * service posts it, signed, and retries it with backoff across restarts. A delivery that keeps
 * failing is reported on VM_WEBHOOKS_FAILED when its budget is spent — never dropped silently.
 *
 * The body is built once, when the delivery is queued, so every attempt posts the same bytes;
 * the target's URL and secret stay in the web service's configuration, never in NATS.
 */
import { z } from 'zod';
import { CallerSchema } from './caller.js';
import { MailboxSchema, MessageIdSchema, SenderSchema } from './ids.js';
import { CodecSchema, IsoTimeSchema, MailboxCountsSchema, TranscriptSchema } from './storage.js';

/** A target's name in the configuration (and in metrics and failure reports). */
export const WebhookTargetNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'may contain only letters, digits, _ and - (at most 64)');

/** What every webhook body holds. */
const WebhookBase = {
  /** Unique per delivery to one target and stable across its attempts: receivers de-duplicate by it. */
  deliveryId: z.string().min(1).max(160),
  /** The mailbox event or notice it came from (the same for every target). */
  eventId: z.string().min(1).max(160),
  occurredAt: IsoTimeSchema,
  mailbox: MailboxSchema,
  /** The mailbox's counts when it happened. */
  counts: MailboxCountsSchema,
};

/**
 * What the mailbox's owner is told (contracts' notices.ts): it passed its warning share of the most
 * messages it holds, it is full, or messages are about to be deleted by retention.
 */
export const NoticeWebhookBodySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('mailbox.almost-full'), ...WebhookBase, limit: z.number().int().positive() }),
  z.strictObject({ type: z.literal('mailbox.full'), ...WebhookBase, limit: z.number().int().positive() }),
  z.strictObject({ type: z.literal('messages.expiring'), ...WebhookBase, expiring: z.number().int().positive(), expiresAt: IsoTimeSchema }),
]);
export type NoticeWebhookBody = z.infer<typeof NoticeWebhookBodySchema>;

/** What webhooks tell about a message: that it is new, and (transcription on) what its caller said. */
export const WEBHOOK_EVENTS = ['message.created', 'message.transcribed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * What a receiver gets: a new message (`message.created`), its transcript (`message.transcribed`)
 * or a notice about the mailbox (documented in the web service's OpenAPI).
 */
export const MessageWebhookBodySchema = z.strictObject({
  type: z.enum(WEBHOOK_EVENTS),
  ...WebhookBase,
  message: z.strictObject({
    id: MessageIdSchema,
    /** The details, unless the message was gone (deleted) before the delivery was queued. */
    sender: SenderSchema.optional(),
    caller: CallerSchema.optional(),
    recordedAt: IsoTimeSchema.optional(),
    durationMs: z.number().int().nonnegative().optional(),
    codec: CodecSchema.optional(),
    urgent: z.boolean().optional(),
    size: z.number().int().nonnegative().optional(),
    /** A copy forwarded from another mailbox of the domain. */
    forwardedFrom: MailboxSchema.optional(),
    /** `message.transcribed`: the text, or that there is none and why (also in `message.created` if it was there already). */
    transcript: TranscriptSchema.optional(),
  }),
});
export type MessageWebhookBody = z.infer<typeof MessageWebhookBodySchema>;
export const WebhookBodySchema = z.discriminatedUnion('type', [MessageWebhookBodySchema, ...NoticeWebhookBodySchema.options]);
export type WebhookBody = z.infer<typeof WebhookBodySchema>;

/** A job on VM_WEBHOOKS: post `body` to the target named `target`. */
export const WebhookDeliverySchema = z.strictObject({
  target: WebhookTargetNameSchema,
  body: WebhookBodySchema,
  queuedAt: IsoTimeSchema,
});
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;

/** On VM_WEBHOOKS_FAILED: a delivery given up after its retry budget. */
export const WebhookFailedEventSchema = z.strictObject({
  target: WebhookTargetNameSchema,
  deliveryId: z.string().min(1).max(160),
  mailbox: MailboxSchema,
  /** The new message, for a `message.created` delivery. */
  messageId: MessageIdSchema.optional(),
  attempts: z.number().int().nonnegative(),
  /** The last failure: the HTTP status and what the receiver said, or the network error. */
  reason: z.string().max(2048),
  /** `budget-spent` after the last retry; `target-removed` when the target left the configuration. */
  outcome: z.enum(['budget-spent', 'target-removed']),
  at: IsoTimeSchema,
});
export type WebhookFailedEvent = z.infer<typeof WebhookFailedEventSchema>;
