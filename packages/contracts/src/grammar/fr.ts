/**
 * French: "quarante-deux nouveaux messages", "aucun nouveau message" (the singular after "aucun"),
 * "23 novembre à 14 heures 5". Numbers count by twenty from sixty: 71 is "soixante et onze"
 * (`num_60`, `num_and`, `num_11`), 95 "quatre-vingt-quinze" (`num_80`, `num_15`); "et" joins the
 * ones of 21 to 71; a hundred and a thousand take no "un".
 */
import { cldrPlural, type Grammar } from './grammar.js';

function frenchTens(n: number): string[] {
  if (n < 20) return [`num_${n}`];
  const tens = Math.floor(n / 10) * 10;
  const units = n % 10;
  // 70–79 and 90–99 are sixty and eighty with ten to nineteen.
  if (tens === 70 || tens === 90) return [`num_${tens - 10}`, ...(units === 1 && tens === 70 ? ['num_and'] : []), `num_${10 + units}`];
  if (units === 0) return [`num_${tens}`];
  return [`num_${tens}`, ...(units === 1 && tens < 80 ? ['num_and'] : []), `num_${units}`];
}

function french(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands > 0) out.push(...(thousands > 1 ? [`num_${thousands}`] : []), 'num_thousand');
  if (hundreds > 0) out.push(...(hundreds > 1 ? [`num_${hundreds}`] : []), 'num_hundred');
  if (rest > 0) out.push(...frenchTens(rest));
  return out;
}

export const fr: Grammar = {
  tag: 'fr',
  digits: 'right',
  number: french,
  plural: cldrPlural('fr'),
  zero: 'one',
  date: 'day-month',
  clock: 'hour-oclock-minute',
};
