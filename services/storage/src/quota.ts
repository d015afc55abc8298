/**
 * When a mailbox's owner is told about its fill (docs/behaviour.md §6): once when a new message
 * takes it to its warning share of the most messages it holds, once when it takes it to the limit.
 * Decided from the count before and after the message, so each crossing is told once however many
 * storage instances store into the mailbox.
 */
import type { Mailbox, MailboxCounts, MailboxNotice, MailboxOwner, MessageId } from '@sipvm/contracts';

export type QuotaNoticeKind = 'mailbox-almost-full' | 'mailbox-full';

export function quotaCrossing(limit: number, warnPercent: number | undefined, before: number, after: number): QuotaNoticeKind | undefined {
  if (limit <= 0 || after <= before) return undefined;
  if (before < limit && after >= limit) return 'mailbox-full';
  if (warnPercent === undefined) return undefined;
  const warnAt = Math.max(1, Math.ceil((limit * warnPercent) / 100));
  return warnAt < limit && before < warnAt && after >= warnAt ? 'mailbox-almost-full' : undefined;
}

/** The owner's notice when message `id` took the mailbox to its warning share or its limit; undefined when it did not. */
export function fillNotice(
  mailbox: Mailbox,
  id: MessageId,
  quota: { limit: number; warnPercent: number | undefined; owner: MailboxOwner | undefined },
  after: MailboxCounts,
  at: Date,
): MailboxNotice | undefined {
  const total = after.new + after.saved;
  const kind = quotaCrossing(quota.limit, quota.warnPercent, total - 1, total);
  if (!kind) return undefined;
  return {
    kind,
    // Stable for the message: a create done again publishes it again, and JetStream drops the twin.
    noticeId: `${kind}-${id}-${Buffer.from(`${mailbox.did}/${mailbox.uid}`).toString('base64url').slice(0, 64)}`,
    mailbox,
    at: at.toISOString(),
    counts: after,
    limit: quota.limit,
    ...(quota.owner ? { owner: quota.owner } : {}),
  };
}
