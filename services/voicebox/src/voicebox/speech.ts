/**
 * What the voicebox says, as prompt chains: the count summary and the envelope (docs/behaviour.md §4),
 * in the order and with the noun forms of the call's language (its grammar: contracts' grammar/;
 * English's for a language without one). Numbers are `number` playables, which media speaks in
 * the call's language.
 */
import { grammarFor, type MailboxCounts, type Playable } from '@sipvm/contracts';

export interface Voice {
  language: string;
  /** The mailbox's domain: an operator's own recordings for it are preferred. */
  domain?: string | undefined;
}

export const prompt = (voice: Voice, name: string): Playable => ({
  kind: 'prompt',
  name,
  language: voice.language,
  ...(voice.domain !== undefined ? { domain: voice.domain } : {}),
});

const number = (voice: Voice, value: number): Playable => ({ kind: 'number', value: Math.min(value, 9999), language: voice.language });

/**
 * "no new messages" / "one new message" / "<n> new messages", and the same for saved: after "no"
 * the form the language takes there ("aucun nouveau message"), after a number the form its plural
 * rules give (`new_messages`, or `new_messages_few` … in a language that has such forms).
 */
function count(voice: Voice, n: number, kind: 'new' | 'saved'): Playable[] {
  const rules = grammarFor(voice.language);
  if (n === 0) return [prompt(voice, 'no_count'), prompt(voice, rules.zero === 'one' ? `${kind}_message` : `${kind}_messages`)];
  if (n === 1) return [prompt(voice, `one_${kind}_message`)];
  const form = rules.plural(n);
  return [number(voice, n), prompt(voice, form === 'one' ? `${kind}_message` : form === 'other' ? `${kind}_messages` : `${kind}_messages_${form}`)];
}

/** "You have three new messages and one saved message." */
export function summary(voice: Voice, counts: Pick<MailboxCounts, 'new' | 'saved'>): Playable[] {
  return [prompt(voice, 'you_have'), ...count(voice, counts.new, 'new'), prompt(voice, 'and'), ...count(voice, counts.saved, 'saved')];
}

/**
 * "This message was received on Monday, November 23 at 14 05 from 4 9 3 0 …": the time in the
 * configured zone, the caller's number digit by digit when the sender is a number, else "an
 * unknown caller" (a SIP name cannot be spoken from prompts).
 */
export function envelope(voice: Voice, message: { recordedAt: string; sender: string }, timeZone: string): Playable[] {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
      .formatToParts(new Date(message.recordedAt))
      .map((p) => [p.type, p.value]),
  );
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday ?? '') + 1;
  const month = Number(parts.month);
  const day = Number(parts.day);
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  // The language's order: "November 23" or "23. November", "14 05" or "14 Uhr 5"; lng may be `german` or `de-AT`.
  const rules = grammarFor(voice.language);
  const date = rules.date === 'day-month' ? [number(voice, day), prompt(voice, `month_${month}`)] : [prompt(voice, `month_${month}`), number(voice, day)];
  const time =
    rules.clock === 'hour-oclock-minute'
      ? [number(voice, hour), prompt(voice, 'envelope_oclock'), ...(minute > 0 ? [number(voice, minute)] : [])]
      : [number(voice, hour), minute > 0 ? number(voice, minute) : prompt(voice, 'envelope_oclock')];
  const digits = callerDigits(message.sender);
  return [
    prompt(voice, 'envelope_received'),
    ...(weekday > 0 ? [prompt(voice, `day_${weekday}`)] : []),
    ...date,
    prompt(voice, 'envelope_at'),
    ...time,
    prompt(voice, 'envelope_from'),
    ...(digits ? digits.map((d) => prompt(voice, `num_${d}`)) : [prompt(voice, 'envelope_unknown_caller')]),
  ];
}

/** The caller's number from `sip:+4930123@host`, `tel:+4930123` or `4930123`; undefined if it is a name. */
export function callerDigits(sender: string): string[] | undefined {
  const user = /^(?:sips?:|tel:)?\+?([0-9]{2,20})(?:[@;].*)?$/.exec(sender.trim())?.[1];
  return user ? [...user] : undefined;
}
