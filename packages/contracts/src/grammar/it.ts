/**
 * Italian: "quarantadue nuovi messaggi", "nessun nuovo messaggio" (the singular after "nessun"),
 * "23 novembre alle 14 e 5". Tens and ones make one word (`num_21` … `num_99`, as Italian drops
 * the tens' last vowel before "uno" and "otto"); the hundreds have words of their own (`num_100`
 * "cento", `num_200` "duecento" …); a thousand is "mille", more are "<digit> mila" (`num_thousands`).
 */
import { byPlaces, cldrPlural, type Grammar } from './grammar.js';

const italian = (n: number): string[] =>
  byPlaces(n, {
    thousands: (count) => (count === 1 ? ['num_thousand'] : [`num_${count}`, 'num_thousands']),
    hundreds: (count) => [`num_${count * 100}`],
    rest: (value) => [`num_${value}`],
  });

export const it: Grammar = {
  tag: 'it',
  digits: 'right',
  number: italian,
  plural: cldrPlural('it'),
  zero: 'one',
  date: 'day-month',
  clock: 'hour-minute',
};
