/**
 * The caller and the length of a message in words of the mail's language: "Bob Smith (030 1234567)",
 * "withheld number", "1 minute, 5 seconds" / "9 Sekunden". Units and lists come from the runtime's
 * CLDR data (Intl), so every language it knows reads right; the word for a withheld number is ours.
 */
import { languageTag, primaryLanguage, type Caller } from '@sipvm/contracts';

/** "Withheld" in the languages SEMS installations mail in; others read English. */
const WITHHELD: Readonly<Record<string, string>> = {
  en: 'withheld number',
  de: 'unterdrückte Rufnummer',
  fr: 'numéro masqué',
  es: 'número oculto',
  it: 'numero privato',
  nl: 'afgeschermd nummer',
  pt: 'número privado',
};

/** Who called, for people: name and number, either alone, "withheld", or the sender as it came. */
export function callerText(caller: Caller | undefined, sender: string, language: string): string {
  if (caller?.withheld) return WITHHELD[primaryLanguage(language) ?? 'en'] ?? (WITHHELD.en as string);
  const number = caller?.numberText ?? caller?.number;
  if (caller?.name !== undefined && number !== undefined && caller.name !== number) return `${caller.name} (${number})`;
  return caller?.name ?? number ?? sender;
}

/** A message's length in words: "9 seconds", "2 minutes", "1 minute, 5 seconds" (rounded to the second). */
export function lengthInWords(durationMs: number, language: string): string {
  const locale = intlLocale(language);
  const total = Math.max(0, Math.round(durationMs / 1000));
  const unit = (n: number, name: 'minute' | 'second') => new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: 'long' }).format(n);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  if (minutes === 0) return unit(seconds, 'second');
  if (seconds === 0) return unit(minutes, 'minute');
  return new Intl.ListFormat(locale, { style: 'long', type: 'unit' }).format([unit(minutes, 'minute'), unit(seconds, 'second')]);
}

/** A locale Intl takes for a SEMS language value (`german`, `de_AT`), English when it knows none. */
function intlLocale(language: string): string {
  const tag = languageTag(language);
  try {
    return tag !== undefined && Intl.NumberFormat.supportedLocalesOf([tag]).length > 0 ? tag : 'en';
  } catch {
    return 'en';
  }
}
