/**
 * Notices about a mailbox (contracts' notices.ts: almost full, full, messages about to expire) →
 * a mail to its owner, when the notice knows the owner's address. One durable consumer of
 * VM_MAILBOX_NOTICES shared by the instances; the mail goes through the outbox like every other
 * (retries, the sent-ledger), queued under the notice's id, so a notice taken twice mails once.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { decodeJson, enqueueMail, ensureStreams, MailboxNoticeSchema, STREAMS, SUBJECTS, toServiceError, type MailboxNotice } from '@sipvm/contracts';
import { startDurableWorker, type Logger, type WorkOutcome } from '@sipvm/service';

export const NOTICE_MAIL_CONSUMER = 'voicemail-notice-mail';
const RETRY_MS = 10_000;

export async function startNoticeMailer(options: { js: JetStreamClient; jsm: JetStreamManager; log: Logger }): Promise<{ stop(): Promise<void> }> {
  await ensureStreams(options.jsm, ['mailboxNotices', 'mail']);
  return startDurableWorker({
    js: options.js,
    jsm: options.jsm,
    stream: STREAMS.mailboxNotices.name,
    consumer: NOTICE_MAIL_CONSUMER,
    filterSubject: SUBJECTS.mailbox.notice,
    concurrency: 2,
    ackWaitMs: 60_000,
    log: options.log,
    handle: (msg) => mailNotice(msg, options),
  });
}

async function mailNotice(msg: JsMsg, options: { js: JetStreamClient; log: Logger }): Promise<WorkOutcome> {
  let notice: MailboxNotice;
  try {
    notice = decodeJson(MailboxNoticeSchema, msg.data, 'mailbox notice');
  } catch (error) {
    const reason = toServiceError(error).message;
    options.log.error({ err: reason, seq: msg.seq }, 'mailbox notice is malformed; no mail for it');
    return { kind: 'drop', reason };
  }
  const email = notice.owner?.email;
  if (email === undefined || notice.owner === undefined) return { kind: 'done' }; // nobody to mail: webhooks only
  const { mailbox, owner, counts } = notice;
  try {
    await enqueueMail(options.js, {
      mailId: notice.noticeId,
      to: email,
      user: owner.user,
      domain: owner.domain,
      uid: mailbox.uid,
      did: mailbox.did,
      ...(owner.language !== undefined ? { language: owner.language } : {}),
      sender: `sip:${mailbox.uid}@${mailbox.did}`,
      recordedAt: notice.at,
      durationMs: 0,
      notice: {
        kind: notice.kind,
        messages: counts.new + counts.saved,
        ...(notice.kind === 'messages-expiring' ? { expiring: notice.expiring, expiresAt: notice.expiresAt } : { limit: notice.limit }),
      },
      enqueuedAt: new Date().toISOString(),
    });
  } catch (error) {
    options.log.warn({ err: toServiceError(error).message, noticeId: notice.noticeId }, 'cannot queue the notice mail; will retry');
    return { kind: 'retry', delayMs: RETRY_MS };
  }
  options.log.info({ noticeId: notice.noticeId, kind: notice.kind, mailbox: `${mailbox.uid}@${mailbox.did}` }, 'notice mail queued');
  return { kind: 'done' };
}
