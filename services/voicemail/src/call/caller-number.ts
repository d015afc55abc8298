/**
 * The caller's number as the mailbox's people read it (docs/behaviour.md §2): made E.164 with the
 * domain's country (`country` in VM_DOMAINS_FILE, else VM_COUNTRY) and written in that country's
 * way — national for a number of the same country (`030 1234567`), international otherwise
 * (`+44 20 7946 0000`). A short number (an extension, a service code) stays as dialled.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import { CallerSchema, type Caller } from '@sipvm/contracts';

export function withNumberForPeople(caller: Caller | undefined, country: string | undefined): Caller | undefined {
  if (caller?.number === undefined || caller.withheld) return caller;
  const raw = caller.number;
  const parsed = parsePhoneNumberFromString(raw, country as CountryCode | undefined);
  const digits = raw.replace(/\D/g, '');
  // Global, or a national or international prefix taken off, or a whole number valid there.
  const complete = parsed !== undefined && (raw.startsWith('+') || parsed.nationalNumber.length < digits.length || (parsed.isValid() && digits.length >= 8));
  if (!parsed || !complete) return { ...caller, numberText: raw };
  const numberText = parsed.country !== undefined && parsed.country === country ? parsed.formatNational() : parsed.formatInternational();
  const candidate = { ...caller, number: parsed.number, numberText };
  // Whatever the library writes must still be what the contract allows; else the number as dialled.
  return CallerSchema.safeParse(candidate).success ? candidate : { ...caller, numberText: raw };
}
