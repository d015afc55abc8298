/**
 * Message ids: the UTC time the recording started, to the millisecond, then 12 hex digits.
 * Random digits make ids unique however many messages arrive per second from one sender
 * (docs/behaviour.md §2 fix); digits derived from an idempotency key make a retried create land on the
 * same id, so a message handed over twice is stored once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Mailbox, MessageId } from '@sipvm/contracts';

export function newMessageId(recordedAt: Date, mailbox: Mailbox, idempotencyKey?: string): MessageId {
  const suffix =
    idempotencyKey === undefined
      ? randomBytes(6).toString('hex')
      : createHash('sha256').update(`${mailbox.did}\n${mailbox.uid}\n${idempotencyKey}`).digest('hex').slice(0, 12);
  return `${compactUtc(recordedAt)}-${suffix}`;
}

/** 2026-11-23T08:18:47.123Z → 20261123T081847123Z */
export function compactUtc(time: Date): string {
  return time.toISOString().replace(/[-:.]/g, '');
}
