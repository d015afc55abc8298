/**
 * French: "quarante-deux nouveaux messages", "aucun nouveau message" (the singular after "aucun"),
 * "23 novembre à 14 heures 5". Numbers count by twenty from sixty: 71 is "soixante et onze"
 * (`num_60`, `num_and`, `num_11`), 95 "quatre-vingt-quinze" (`num_80`, `num_15`); "et" joins the
 * ones of 21 to 71; a hundred and a thousand take no "un".
 */
import { byPlaces, cldrPlural, thousandAlone, type Grammar } from './grammar.js';

function frenchTens(n: number): string[] {
  if (n < 20) return [`num_${n}`];
  const tens = Math.floor(n / 10) * 10;
  const units = n % 10;
  // 70–79 and 90–99 are sixty and eighty with ten to nineteen.
  if (tens === 70 || tens === 90) return [`num_${tens - 10}`, ...(units === 1 && tens === 70 ? ['num_and'] : []), `num_${10 + units}`];
  if (units === 0) return [`num_${tens}`];
  return [`num_${tens}`, ...(units === 1 && tens < 80 ? ['num_and'] : []), `num_${units}`];
}

const french = (n: number): string[] =>
  byPlaces(n, { thousands: thousandAlone, hundreds: (count) => [...(count > 1 ? [`num_${count}`] : []), 'num_hundred'], rest: frenchTens });

export const fr: Grammar = {
  tag: 'fr',
  digits: 'right',
  number: french,
  plural: cldrPlural('fr'),
  zero: 'one',
  date: 'day-month',
  clock: 'hour-oclock-minute',
};
