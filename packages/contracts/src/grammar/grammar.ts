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

/** How a language says each place of a number below 10,000 (each part only when it is not zero). */
export interface Places {
  thousands(count: number): string[];
  hundreds(count: number, rest: number): string[];
  /** 1 to 99. */
  rest(value: number): string[];
}

/** The number prompts for `n` (0–9999), place by place as the language says them. */
export function byPlaces(n: number, say: Places): string[] {
  if (n === 0) return ['num_0'];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  return [...(thousands > 0 ? say.thousands(thousands) : []), ...(hundreds > 0 ? say.hundreds(hundreds, rest) : []), ...(rest > 0 ? say.rest(rest) : [])];
}

/** "mille", "deux mille": a thousand without "one" before it. */
export const thousandAlone = (count: number): string[] => [...(count > 1 ? [`num_${count}`] : []), 'num_thousand'];

/**
 * Tens before units ("forty-two": `num_40`, `num_2`), hundreds and thousands as "<digit> hundred"
 * (`num_4`, `num_hundred`). Any language whose numbers follow English's shape.
 */
export function tensFirst(n: number): string[] {
  return byPlaces(n, {
    thousands: (count) => [`num_${count}`, 'num_thousand'],
    hundreds: (count) => [`num_${count}`, 'num_hundred'],
    rest: (value) => (value < 20 || value % 10 === 0 ? [`num_${value}`] : [`num_${value - (value % 10)}`, `num_${value % 10}`]),
  });
}

/**
 * Units before tens ("zweiundvierzig": `num_2`, `num_and`, `num_40`), with `num_1_combined` for the
 * "ein" of "einundzwanzig" and "einhundert".
 */
export function unitsFirst(n: number): string[] {
  const prefix = (digit: number) => (digit === 1 ? 'num_1_combined' : `num_${digit}`);
  return byPlaces(n, {
    thousands: (count) => [prefix(count), 'num_thousand'],
    hundreds: (count) => [prefix(count), 'num_hundred'],
    rest: (value) => (value < 20 || value % 10 === 0 ? [`num_${value}`] : [prefix(value % 10), 'num_and', `num_${value - (value % 10)}`]),
  });
}

/** A number by the digit order alone (a language without a grammar of its own, or one told otherwise). */
export function numberPieces(value: number, order: DigitOrder): string[] {
  return order === 'left' ? unitsFirst(value) : tensFirst(value);
}
