/** Digits from SIP INFO (docs/behaviour.md §8): `application/dtmf-relay` (Signal=5) and `application/dtmf` (5). */
import { DigitSchema, type Digit } from '@sipvm/contracts';

/** Some phones send the RFC 4733 event numbers 10–15 instead of * # A–D. */
const EVENT_NUMBERS: Record<string, Digit> = { '10': '*', '11': '#', '12': 'A', '13': 'B', '14': 'C', '15': 'D' };

export const DTMF_CONTENT_TYPES = ['application/dtmf-relay', 'application/dtmf'] as const;

/** The digit in an INFO body, or undefined when the content type or body is not DTMF. */
export function digitFromInfo(contentType: string | undefined, body: string): Digit | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  let raw: string | undefined;
  if (type === 'application/dtmf-relay') {
    raw = /^\s*signal\s*=\s*(\S+)\s*$/im.exec(body)?.[1];
  } else if (type === 'application/dtmf') {
    raw = body.trim();
  }
  if (raw === undefined) return undefined;
  const value = EVENT_NUMBERS[raw] ?? raw.toUpperCase();
  const parsed = DigitSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
