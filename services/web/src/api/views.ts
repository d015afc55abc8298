/**
 * What the API answers and accepts, as schemas: the handlers build their answers through these,
 * and the OpenAPI document is generated from the same schemas (openapi.ts), so the document
 * cannot drift from the answers; the tests check real answers against the document.
 */
import { z } from 'zod';
import {
  GreetingTypeSchema,
  IsoTimeSchema,
  MailboxIdSchema,
  MessageIdSchema,
  MailboxCountsSchema,
  MailboxSchema,
  MessageInfoSchema,
  TranscriptSchema,
  WebhookBodySchema,
  type GreetingInfo,
  type Mailbox,
  type MessageInfo,
} from '@sipvm/contracts';
import { ScopeSchema } from '../tokens.js';

/** A signed link that plays the recording in an <audio> element, and when it stops working. */
const AudioLinkFields = {
  /** Relative to the service's base URL; carries its own short-lived signature (`?link=`). */
  audioUrl: z.string(),
  audioUrlExpiresAt: IsoTimeSchema,
};

/** A message as storage describes it (its mailbox is the URL's), with a link to play it. */
export const MessageViewSchema = MessageInfoSchema.omit({ mailbox: true }).extend(AudioLinkFields);
export type MessageView = z.infer<typeof MessageViewSchema>;

export const MessageListSchema = z.strictObject({
  mailbox: MailboxSchema,
  counts: MailboxCountsSchema,
  total: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  limit: z.number().int().positive(),
  /** Newest first. */
  messages: z.array(MessageViewSchema),
});

export const MessageChangedSchema = z.strictObject({ message: MessageViewSchema, counts: MailboxCountsSchema });
export const MessageDeletedSchema = z.strictObject({ deleted: z.boolean(), counts: MailboxCountsSchema });
export const MarkRequestSchema = z.strictObject({ read: z.boolean() });
/** Forward a message to another mailbox of the same domain (its user id). */
export const ForwardRequestSchema = z.strictObject({ to: MailboxIdSchema });
/** The copy, a new message of the other mailbox (its details are that mailbox's owner's business). */
export const MessageForwardedSchema = z.strictObject({ forwarded: z.strictObject({ mailbox: MailboxSchema, id: MessageIdSchema }) });

export const GreetingViewSchema = z.strictObject({
  type: GreetingTypeSchema,
  /** Whether the mailbox has its own greeting of this type (otherwise callers hear the default). */
  exists: z.boolean(),
  size: z.number().int().nonnegative().optional(),
  updatedAt: IsoTimeSchema.optional(),
  /** The temporary greeting (`temp`): callers hear it until then. */
  until: IsoTimeSchema.optional(),
  audioUrl: z.string().optional(),
  audioUrlExpiresAt: IsoTimeSchema.optional(),
});
export type GreetingView = z.infer<typeof GreetingViewSchema>;
export const GreetingListSchema = z.strictObject({ mailbox: MailboxSchema, greetings: z.array(GreetingViewSchema) });
export const GreetingSavedSchema = z.strictObject({ greeting: GreetingViewSchema });
export const GreetingDeletedSchema = z.strictObject({ deleted: z.boolean() });

export const TokenRequestSchema = z.strictObject({
  mailbox: MailboxSchema,
  /** Default: every scope. */
  scopes: z.array(ScopeSchema).min(1).optional(),
  /** Default WEB_TOKEN_TTL, at most WEB_TOKEN_MAX_TTL. */
  ttlSeconds: z.number().int().min(60).optional(),
});
export const TokenIssuedSchema = z.strictObject({
  token: z.string(),
  mailbox: MailboxSchema,
  scopes: z.array(ScopeSchema),
  expiresAt: IsoTimeSchema,
  /** Opens the web inbox with this token (in the fragment, which browsers never send to servers). */
  inboxUrl: z.string(),
});
export const TokensWithdrawnSchema = z.strictObject({
  mailbox: MailboxSchema,
  /** Tokens of the mailbox issued up to this second are refused from now on (its audio links expire by themselves). */
  notBefore: IsoTimeSchema,
});
export const WhoAmISchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('operator') }),
  z.strictObject({ kind: z.literal('mailbox'), mailbox: MailboxSchema, scopes: z.array(ScopeSchema), expiresAt: IsoTimeSchema }),
]);

export const ProblemSchema = z.strictObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
});

/** Every named schema of the document: name → schema. */
export const NAMED_SCHEMAS = {
  Mailbox: MailboxSchema,
  MailboxCounts: MailboxCountsSchema,
  Message: MessageViewSchema,
  MessageList: MessageListSchema,
  MessageChanged: MessageChangedSchema,
  MessageDeleted: MessageDeletedSchema,
  MarkRequest: MarkRequestSchema,
  ForwardRequest: ForwardRequestSchema,
  MessageForwarded: MessageForwardedSchema,
  Greeting: GreetingViewSchema,
  GreetingList: GreetingListSchema,
  GreetingSaved: GreetingSavedSchema,
  GreetingDeleted: GreetingDeletedSchema,
  TokenRequest: TokenRequestSchema,
  TokenIssued: TokenIssuedSchema,
  TokensWithdrawn: TokensWithdrawnSchema,
  WhoAmI: WhoAmISchema,
  Problem: ProblemSchema,
  WebhookBody: WebhookBodySchema,
  Transcript: TranscriptSchema,
} as const;

// ------------------------------------------------------------------ building the answers

const segment = encodeURIComponent;

export function mailboxPath(mailbox: Mailbox): string {
  return `/api/v1/mailboxes/${segment(mailbox.did)}/${segment(mailbox.uid)}`;
}

export type LinkMaker = (
  path: string,
  resource: { kind: 'message'; id: string } | { kind: 'greeting'; type: string },
) => { audioUrl: string; audioUrlExpiresAt: string };

export function messageView(info: MessageInfo, link: LinkMaker): MessageView {
  return {
    id: info.id,
    sender: info.sender,
    ...(info.caller !== undefined ? { caller: info.caller } : {}),
    recordedAt: info.recordedAt,
    durationMs: info.durationMs,
    codec: info.codec,
    urgent: info.urgent,
    read: info.read,
    size: info.size,
    ...(info.transcript ? { transcript: info.transcript } : {}),
    ...(info.forwardedFrom ? { forwardedFrom: info.forwardedFrom } : {}),
    ...link(`${mailboxPath(info.mailbox)}/messages/${info.id}/audio`, { kind: 'message', id: info.id }),
  };
}

export function greetingView(mailbox: Mailbox, type: string, info: GreetingInfo | undefined, link: LinkMaker | undefined): GreetingView {
  if (!info) return { type, exists: false };
  return {
    type,
    exists: true,
    size: info.size,
    updatedAt: info.updatedAt,
    ...(info.until ? { until: info.until } : {}),
    ...(link ? link(`${mailboxPath(mailbox)}/greetings/${type}`, { kind: 'greeting', type }) : {}),
  };
}
