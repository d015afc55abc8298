/**
 * When a mailbox's owner is told about its fill (docs/behaviour.md §6): once when a new message
 * takes it to its warning share of the most messages it holds, once when it takes it to the limit.
 * Decided from the count before and after the message, so each crossing is told once however many
 * storage instances store into the mailbox.
 */
export type QuotaNoticeKind = 'mailbox-almost-full' | 'mailbox-full';

export function quotaCrossing(limit: number, warnPercent: number | undefined, before: number, after: number): QuotaNoticeKind | undefined {
  if (limit <= 0 || after <= before) return undefined;
  if (before < limit && after >= limit) return 'mailbox-full';
  if (warnPercent === undefined) return undefined;
  const warnAt = Math.max(1, Math.ceil((limit * warnPercent) / 100));
  return warnAt < limit && before < warnAt && after >= warnAt ? 'mailbox-almost-full' : undefined;
}
