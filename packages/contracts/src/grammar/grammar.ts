/**
 * What a language needs beyond its prompts for the platform to speak it (docs/languages.md): how
 * it says a number with the number prompts, which form of a noun follows a count, and in which
 * order it says a date and a time. One short file per language beside this one (en.ts, de.ts, …),
 * listed in index.ts; the words themselves are prompts (media's catalog, or an operator's folder).
 */

/** Where the units go in a number between the tens: `right` ("twenty-one"), `left` ("einundzwanzig"). */
export type DigitOrder = 'left' | 'right';

/** The form of a noun after a count: CLDR's plural categories ("one new message", "two new messages"). */
export type PluralForm = 'one' | 'two' | 'few' | 'many' | 'other';

export interface Grammar {
  /** The language's tag (its primary subtag). */
  readonly tag: string;
  /** Its own digit order; SEMS's `digits=` setting (PROMPTS_DIGIT_ORDER) may say otherwise. */
  readonly digits: DigitOrder;
  /** The number prompts (`num_…`) that say `value` (0–9999) in the language's own way. */
  number(value: number): string[];
  /** The noun's form after `count` (2 or more; one and none have prompts of their own). */
  plural(count: number): PluralForm;
  /** After "no" (`no_count`): the singular ("aucun nouveau message") or the plural ("no new messages"). */
  readonly zero: 'one' | 'other';
  /** "November 23" or "23 November". */
  readonly date: 'month-day' | 'day-month';
  /** "14 05" (the hour, then the minutes or "o'clock") or "14 Uhr 05" (the hour, "o'clock", the minutes). */
  readonly clock: 'hour-minute' | 'hour-oclock-minute';
}

/** The form after a count by CLDR's rules for the language (Intl), which know every language. */
export function cldrPlural(tag: string): (count: number) => PluralForm {
  const rules = new Intl.PluralRules(tag);
  return (count) => rules.select(count) as PluralForm;
}

/**
 * Tens before units ("forty-two": `num_40`, `num_2`), hundreds and thousands as "<digit> hundred"
 * (`num_4`, `num_hundred`). Any language whose numbers follow English's shape.
 */
export function tensFirst(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands > 0) out.push(`num_${thousands}`, 'num_thousand');
  if (hundreds > 0) out.push(`num_${hundreds}`, 'num_hundred');
  if (rest > 0 && rest < 20) out.push(`num_${rest}`);
  else if (rest >= 20) {
    out.push(`num_${rest - (rest % 10)}`);
    if (rest % 10 > 0) out.push(`num_${rest % 10}`);
  }
  return out;
}

/**
 * Units before tens ("zweiundvierzig": `num_2`, `num_and`, `num_40`), with `num_1_combined` for the
 * "ein" of "einundzwanzig" and "einhundert".
 */
export function unitsFirst(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const prefix = (digit: number) => (digit === 1 ? 'num_1_combined' : `num_${digit}`);
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands > 0) out.push(prefix(thousands), 'num_thousand');
  if (hundreds > 0) out.push(prefix(hundreds), 'num_hundred');
  if (rest > 0 && rest < 20) out.push(`num_${rest}`);
  else if (rest >= 20) {
    if (rest % 10 > 0) out.push(prefix(rest % 10), 'num_and');
    out.push(`num_${rest - (rest % 10)}`);
  }
  return out;
}

/** A number by the digit order alone (a language without a grammar of its own, or one told otherwise). */
export function numberPieces(value: number, order: DigitOrder): string[] {
  return order === 'left' ? unitsFirst(value) : tensFirst(value);
}
