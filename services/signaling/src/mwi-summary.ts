/** The `application/simple-message-summary` body of RFC 3842 for a mailbox's counts (docs/behaviour.md §7). */
import type { Mailbox, MailboxCounts } from '@sipvm/contracts';

export const MESSAGE_SUMMARY_TYPE = 'application/simple-message-summary';
export const MESSAGE_SUMMARY_EVENT = 'message-summary';

/**
 * Messages-Waiting: yes while there are new messages; Voice-Message: new/old (urgent-new/urgent-old),
 * where the totals include the urgent ones (RFC 3842 §5.2).
 */
export function messageSummary(account: string, counts: MailboxCounts): string {
  return [
    `Messages-Waiting: ${counts.new > 0 ? 'yes' : 'no'}`,
    `Message-Account: ${account}`,
    `Voice-Message: ${counts.new}/${counts.saved} (${counts.urgentNew}/${counts.urgentSaved})`,
    '',
  ].join('\r\n');
}

/** The account URI of a mailbox from a template with {uid} and {did}. */
export function mailboxUri(template: string, mailbox: Mailbox): string {
  return template.replaceAll('{uid}', mailbox.uid).replaceAll('{did}', mailbox.did);
}
