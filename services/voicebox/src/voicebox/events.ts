/**
 * What the voicebox flow asks for beyond the runtime's common actions, and what those actions
 * find out (the events that come back to the flow). Each action is a file of actions/.
 */
import { z } from 'zod';
import { MessageIdSchema, type ListCursor, type MessageId, type StagedAudio } from '@sipvm/contracts';
import type { CallEvent } from '@sipvm/service';

/** A message as the voicebox keeps it for the length of a call (a page of them at a time). */
export const MailboxEntrySchema = z.object({
  id: MessageIdSchema,
  sender: z.string(),
  recordedAt: z.string(),
  /** Heard (saved) now: set when its playback begins. */
  read: z.boolean(),
  /** New when the session began: decides "first/next new message" vs "saved". */
  wasNew: z.boolean(),
  deleted: z.boolean(),
  /** Marked urgent by its caller: played before the other new ones, and said so. */
  urgent: z.boolean().default(false),
});
export type MailboxEntry = z.infer<typeof MailboxEntrySchema>;

/** New messages are played first, then saved ones: each is a listing of its own, paged. */
export const SEGMENTS = ['new', 'saved'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** Where a page starts: the segment's first or last messages, or after or before a message. */
export type PageStart = { from: 'start' } | { from: 'end' } | { after: ListCursor } | { before: ListCursor };

export type VoiceboxEvent =
  | CallEvent
  /** The mailbox at the start of the session: its counts, and the first page of its first segment. */
  | { kind: 'mailbox-loaded'; counts: { new: number; saved: number }; segment: Segment; page: MailboxEntry[]; more: boolean }
  /** A page asked for with `load-page`; `more`: there are messages beyond it (after it, or before it going back). */
  | { kind: 'page-loaded'; segment: Segment; direction: 'after' | 'before'; page: MailboxEntry[]; more: boolean }
  | { kind: 'pin-checked'; outcome: 'right' | 'wrong' | 'locked' }
  /** The result of `forward-message`: `full` when the other mailbox takes no more, `invalid` when it cannot be one. */
  | { kind: 'forwarded'; outcome: 'forwarded' | 'full' | 'invalid' };

export type VoiceboxAction =
  /** Counts the mailbox and reads its first page; the result comes back as `mailbox-loaded`. */
  | { kind: 'load-mailbox' }
  /** Reads a page of a segment, the messages `heard` in the session still new; the result comes back as `page-loaded`. */
  | { kind: 'load-page'; segment: Segment; heard: string[]; start: PageStart }
  /** Checks the PIN (lock-out, constant-time compare); the result comes back as `pin-checked`. */
  | { kind: 'check-pin'; entered: string }
  | { kind: 'mark-read'; id: MessageId }
  | { kind: 'delete-message'; id: MessageId }
  /** Copies the message into mailbox `to` of the domain, the introduction before it; the result comes back as `forwarded`. */
  | { kind: 'forward-message'; id: MessageId; to: string; introduction?: StagedAudio | undefined }
  | { kind: 'discard-staged'; audio: StagedAudio };

/** Messages held at once: a page, whatever the size of the mailbox. */
export const PAGE_SIZE = 20;
