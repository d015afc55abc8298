/**
 * Who called, as a person (contracts caller.ts): the From header's display name, the number of the
 * sender URI — `tel:+4930123`, `sip:+4930123@host;user=phone`, or a user part of digits — and
 * privacy. A caller who asked for it (RFC 3323 `Privacy: id`, `user` or `header`) or called as
 * `anonymous` is withheld: no name, no number, and the sender becomes the anonymous URI of RFC 3323
 * §4.1.1.3, so no field of the message shows who it was.
 */
import type { Caller } from '@sipvm/contracts';

export const ANONYMOUS_SENDER = 'sip:anonymous@anonymous.invalid';

export interface CallerInput {
  /** The INVITE's From header. */
  from: string;
  /** Its Privacy header, if any. */
  privacy: string | undefined;
  /** The sender (P-App-Param `snd`, else the From URI). */
  sender: string;
}

export function callerOf(input: CallerInput): { caller: Caller; sender: string } {
  if (withheld(input)) return { caller: { withheld: true }, sender: ANONYMOUS_SENDER };
  const name = displayName(input.from);
  const number = numberOf(input.sender);
  return { caller: { ...(name !== undefined ? { name } : {}), ...(number !== undefined ? { number } : {}), withheld: false }, sender: input.sender };
}

function withheld(input: CallerInput): boolean {
  const asked = (input.privacy ?? '').split(/[;,]/).map((v) => v.trim().toLowerCase());
  if (asked.some((v) => v === 'id' || v === 'user' || v === 'header')) return true;
  const uri = (/<([^>]*)>/.exec(input.from)?.[1] ?? input.from).trim();
  const user = /^(?:sips?|tel):([^@;]*)@?([^;>]*)/i.exec(uri);
  if (user && (user[1]?.toLowerCase() === 'anonymous' || user[2]?.toLowerCase() === 'anonymous.invalid')) return true;
  return /^"?\s*anonymous\s*"?\s*</i.test(input.from.trim());
}

/** The display name of a name-addr (`"Bob Smith" <sip:…>` or `Bob <sip:…>`), unquoted; undefined without one. */
export function displayName(nameAddr: string): string | undefined {
  const text = nameAddr.trim();
  let name: string | undefined;
  if (text.startsWith('"')) {
    let out = '';
    for (let i = 1; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') {
        name = out;
        break;
      } else out += c;
    }
  } else {
    const angle = text.indexOf('<');
    if (angle > 0) name = text.slice(0, angle);
  }
  const clean = name
    // eslint-disable-next-line no-control-regex -- control characters never reach a mail or a page
    ?.replace(/[\x00-\x1f\x7f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!clean) return undefined;
  return [...clean].slice(0, 64).join('');
}

/** The phone number a sender URI or plain sender holds, digits only (with a leading + when global). */
export function numberOf(sender: string): string | undefined {
  const text = sender.trim().replace(/^<|>$/g, '');
  const tel = /^tel:([^;]+)/i.exec(text);
  const sip = /^sips?:([^@;]+)@[^;]*((?:;[^?]*)?)/i.exec(text);
  let candidate: string | undefined;
  if (tel) candidate = tel[1];
  else if (sip) {
    const user = (sip[1] ?? '').split(';')[0] ?? '';
    const userPhone = /;\s*user=phone\b/i.test(sip[2] ?? '') || /;\s*user=phone\b/i.test(text);
    candidate = userPhone || /^\+?[0-9]{2,}$/.test(user) ? user : undefined;
  } else if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) candidate = text;
  if (candidate === undefined) return undefined;
  // Visual separators of RFC 3966 (-, ., parentheses) and spaces are not part of the number.
  const digits = decodeURIComponent(candidate).replace(/[-.()\s]/g, '');
  return /^\+?[0-9*#]{1,32}$/.test(digits) ? digits : undefined;
}
