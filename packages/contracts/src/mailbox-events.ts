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
