/**
 * Mailbox events: published by storage (JetStream, stream VM_MAILBOX) after every change to a
 * mailbox's messages, with the counts as they are after the change. Signaling turns them into
 * MWI NOTIFYs (docs/behaviour.md §7). Greeting changes are not mailbox events.
 */
import { z } from 'zod';
import { MailboxSchema, MessageIdSchema } from './ids.js';
import { IsoTimeSchema, MailboxCountsSchema } from './storage.js';

export const MAILBOX_CHANGES = ['message-created', 'message-deleted', 'message-read', 'message-unread', 'message-expired'] as const;

export const MailboxChangedEventSchema = z.strictObject({
  /** Unique per event; also the JetStream de-duplication id. */
  eventId: z.string().min(1).max(64),
  mailbox: MailboxSchema,
  change: z.enum(MAILBOX_CHANGES),
  messageId: MessageIdSchema,
  counts: MailboxCountsSchema,
  at: IsoTimeSchema,
});
export type MailboxChangedEvent = z.infer<typeof MailboxChangedEventSchema>;

/**
 * Published by storage (JetStream, stream VM_MAILBOX, subject vm.mailbox.transcribed) when a
 * stored message got its transcript, or was marked as having none. The counts are the mailbox's
 * (unchanged by it): a webhook receiver gets the same shape as for a new message. Not a mailbox
 * change for MWI, so signaling, which reads vm.mailbox.changed, never sees it.
 */
export const MessageTranscribedEventSchema = z.strictObject({
  /** `<messageId>.transcribed`: also the JetStream de-duplication id. */
  eventId: z.string().min(1).max(64),
  mailbox: MailboxSchema,
  messageId: MessageIdSchema,
  /** Whether there is a text (`done`) or not (`none`); the transcript itself is the message's. */
  status: z.enum(['done', 'none']),
  counts: MailboxCountsSchema,
  at: IsoTimeSchema,
});
export type MessageTranscribedEvent = z.infer<typeof MessageTranscribedEventSchema>;
