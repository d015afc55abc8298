/**
 * The template variables of a voice-message mail (docs/behaviour.md §3), computed in one place from a mail
 * job. SEMS's own names (from, to, from_user, from_domain) are kept so SEMS templates work.
 */
import { primaryLanguage, type MailJob } from '@sipvm/contracts';
import { callerText, lengthInWords } from './caller-words.js';

export const STANDARD_VARIABLES = [
  'user',
  'domain',
  'uid',
  'did',
  'email',
  'sender',
  'from',
  'from_user',
  'from_domain',
  'to',
  'ts',
  'date',
  'vmsg_length',
  'duration',
  'msgid',
  // The caller as a person and the length in words, in the mail's language (caller-words.ts).
  'caller',
  'caller_name',
  'caller_number',
  'length',
  'transcript',
  'no_transcript',
  // an urgent message: the word and a space ("Urgent: "), else empty
  'urgent',
  // notices: messages in the mailbox, its limit, how many expire and when the first one does
  'messages',
  'limit',
  'expiring',
  'expires',
] as const;

/** What `%urgent%` says, by the mail's language (primary tag); English for the others. */
const URGENT: Readonly<Record<string, string>> = { en: 'Urgent: ', de: 'Dringend: ', fr: 'Urgent : ', es: 'Urgente: ', it: 'Urgente: ' };

/** The variables a template may use: the standard ones plus the configured extra keys. */
export function knownVariables(extraKeys: readonly string[]): Set<string> {
  return new Set<string>([...STANDARD_VARIABLES, ...extraKeys]);
}

export function mailVariables(job: MailJob, options: { timeZone: string; extraKeys: readonly string[] }): Record<string, string> {
  const recorded = new Date(job.recordedAt);
  const seconds = Math.round(job.durationMs / 1000);
  const { user: fromUser, domain: fromDomain } = splitUri(job.sender);
  const language = job.language ?? 'en';
  const variables: Record<string, string> = {
    user: job.user,
    domain: job.domain,
    uid: job.uid,
    did: job.did,
    email: job.to,
    sender: job.sender,
    from: job.sender,
    from_user: fromUser,
    from_domain: fromDomain,
    to: `sip:${job.user}@${job.domain}`,
    ts: String(Math.floor(recorded.getTime() / 1000)),
    date: formatDate(recorded, options.timeZone),
    // As SEMS wrote it (AnswerMachine.cpp: "%.2f" seconds), so its templates read the same.
    vmsg_length: (job.durationMs / 1000).toFixed(2),
    duration: `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`,
    msgid: job.messageId ?? job.mailId,
    caller: callerText(job.caller, job.sender, language),
    caller_name: job.caller?.withheld ? '' : (job.caller?.name ?? ''),
    caller_number: job.caller?.withheld ? '' : (job.caller?.numberText ?? job.caller?.number ?? ''),
    length: lengthInWords(job.durationMs, language),
    // What the caller said; or, for a mail that waited for it in vain, why there is none (a code: timed-out, …).
    transcript: job.transcript?.status === 'done' ? job.transcript.text : '',
    no_transcript:
      job.transcript?.status === 'none' ? job.transcript.reason : job.transcript === undefined && job.awaitTranscriptUntil !== undefined ? 'timed-out' : '',
    urgent: job.urgent ? (URGENT[primaryLanguage(job.language ?? 'en') ?? 'en'] ?? URGENT.en!) : '',
    messages: String(job.notice?.messages ?? ''),
    limit: String(job.notice?.limit ?? ''),
    expiring: String(job.notice?.expiring ?? ''),
    expires: job.notice?.expiresAt ? formatDate(new Date(job.notice.expiresAt), options.timeZone) : '',
  };
  // Configured extras only; a key the proxy sent but nobody configured is not a variable.
  for (const key of options.extraKeys) variables[key] = job.extra[key] ?? '';
  return variables;
}

/** 2026-11-23 09:18:47 CET, in the configured zone. */
export function formatDate(time: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(time)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

/** user and host of sip:user@host;params (or of a bare number, which has no host). */
function splitUri(uri: string): { user: string; domain: string } {
  const match = /^(?:sips?:|tel:)?([^@;>]*)(?:@([^;>:]*))?/i.exec(uri.replace(/^.*</, ''));
  return { user: match?.[1] ?? '', domain: match?.[2] ?? '' };
}
