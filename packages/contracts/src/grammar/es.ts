/**
 * Spanish: "cuarenta y dos mensajes nuevos", "ningún mensaje nuevo" (the singular after "ningún"),
 * "23 de noviembre a las 14 y 5". Tens and ones are joined by "y" from 31 (`num_and`); 21–29 are
 * one word each (`num_21` … `num_29`); the hundreds have words of their own (`num_100` "cien",
 * `num_100_combined` "ciento", `num_200` "doscientos" …); a thousand is "mil" without "un".
 */
import { byPlaces, cldrPlural, thousandAlone, type Grammar } from './grammar.js';

function spanishTens(n: number): string[] {
  if (n < 30) return [`num_${n}`];
  const tens = Math.floor(n / 10) * 10;
  return n % 10 === 0 ? [`num_${tens}`] : [`num_${tens}`, 'num_and', `num_${n % 10}`];
}

const spanish = (n: number): string[] =>
  byPlaces(n, {
    thousands: thousandAlone,
    hundreds: (count, rest) => [count === 1 && rest > 0 ? 'num_100_combined' : `num_${count * 100}`],
    rest: spanishTens,
  });

export const es: Grammar = {
  tag: 'es',
  digits: 'right',
  number: spanish,
  plural: cldrPlural('es'),
  zero: 'one',
  date: 'day-month',
  clock: 'hour-minute',
};
