/**
 * Italian: "quarantadue nuovi messaggi", "nessun nuovo messaggio" (the singular after "nessun"),
 * "23 novembre alle 14 e 5". Tens and ones make one word (`num_21` … `num_99`, as Italian drops
 * the tens' last vowel before "uno" and "otto"); the hundreds have words of their own (`num_100`
 * "cento", `num_200` "duecento" …); a thousand is "mille", more are "<digit> mila" (`num_thousands`).
 */
import { cldrPlural, type Grammar } from './grammar.js';

function italian(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands === 1) out.push('num_thousand');
  else if (thousands > 1) out.push(`num_${thousands}`, 'num_thousands');
  if (hundreds > 0) out.push(`num_${hundreds * 100}`);
  if (rest > 0) out.push(`num_${rest}`);
  return out;
}

export const it: Grammar = {
  tag: 'it',
  digits: 'right',
  number: italian,
  plural: cldrPlural('it'),
  zero: 'one',
  date: 'day-month',
  clock: 'hour-minute',
};
