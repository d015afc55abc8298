/**
 * Where things live in the store — the whole storage layout, in one place.
 *
 *   mailboxes/<did>/<uid>/messages/<id>.json   message metadata; written last, so its presence
 *                                              is what makes a message exist (no half messages)
 *   mailboxes/<did>/<uid>/audio/<id>.wav       message audio (WAV)
 *   mailboxes/<did>/<uid>/read/<id>            empty marker: the message was heard (saved);
 *                                              its modification time is when it was saved
 *   mailboxes/<did>/<uid>/urgent/<id>          empty marker: the message is urgent
 *   mailboxes/<did>/<uid>/greetings/<typ>.wav  personal greeting of type <typ>
 *   mailboxes/<did>/<uid>/greetings/<typ>.json when it ends (the temporary greeting, `temp`)
 *
 * Flags are separate objects, not fields rewritten in the metadata, so that marking a message
 * is one idempotent write that cannot race with another, and counting a mailbox is one listing
 * of its folder: no per-message reads (docs/behaviour.md §6: count must be cheap).
 * Every path segment comes from a validated id (contracts/ids.ts): no `/`, no `..`.
 */
import type { GreetingType, Mailbox, MessageId } from '@sipvm/contracts';

export const mailboxPrefix = (m: Mailbox): string => `mailboxes/${m.did}/${m.uid}/`;

export const messageMetaKey = (m: Mailbox, id: MessageId): string => `${mailboxPrefix(m)}messages/${id}.json`;
export const messageAudioKey = (m: Mailbox, id: MessageId): string => `${mailboxPrefix(m)}audio/${id}.wav`;
export const readMarkerKey = (m: Mailbox, id: MessageId): string => `${mailboxPrefix(m)}read/${id}`;
export const urgentMarkerKey = (m: Mailbox, id: MessageId): string => `${mailboxPrefix(m)}urgent/${id}`;
export const greetingKey = (m: Mailbox, type: GreetingType): string => `${mailboxPrefix(m)}greetings/${type}.wav`;
export const greetingEndKey = (m: Mailbox, type: GreetingType): string => `${mailboxPrefix(m)}greetings/${type}.json`;

export type MailboxEntry =
  | { kind: 'message'; id: string }
  | { kind: 'audio'; id: string }
  | { kind: 'read'; id: string }
  | { kind: 'urgent'; id: string }
  | { kind: 'greeting'; type: string };

/** What a key inside a mailbox folder is; null for anything unexpected (left alone). */
export function classifyMailboxKey(prefix: string, key: string): MailboxEntry | null {
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  const match = /^(messages|audio|read|urgent|greetings)\/([^/]+)$/.exec(rest);
  if (!match) return null;
  const [, folder, name] = match as unknown as [string, string, string];
  switch (folder) {
    case 'messages':
      return name.endsWith('.json') ? { kind: 'message', id: name.slice(0, -'.json'.length) } : null;
    case 'audio':
      return name.endsWith('.wav') ? { kind: 'audio', id: name.slice(0, -'.wav'.length) } : null;
    case 'greetings':
      return name.endsWith('.wav') ? { kind: 'greeting', type: name.slice(0, -'.wav'.length) } : null;
    case 'read':
      return { kind: 'read', id: name };
    default:
      return { kind: 'urgent', id: name };
  }
}
