/**
 * Spanish: "cuarenta y dos mensajes nuevos", "ningún mensaje nuevo" (the singular after "ningún"),
 * "23 de noviembre a las 14 y 5". Tens and ones are joined by "y" from 31 (`num_and`); 21–29 are
 * one word each (`num_21` … `num_29`); the hundreds have words of their own (`num_100` "cien",
 * `num_100_combined` "ciento", `num_200` "doscientos" …); a thousand is "mil" without "un".
 */
import { cldrPlural, type Grammar } from './grammar.js';

function spanishTens(n: number): string[] {
  if (n < 30) return [`num_${n}`];
  const tens = Math.floor(n / 10) * 10;
  return n % 10 === 0 ? [`num_${tens}`] : [`num_${tens}`, 'num_and', `num_${n % 10}`];
}

function spanish(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands > 0) out.push(...(thousands > 1 ? [`num_${thousands}`] : []), 'num_thousand');
  if (hundreds > 0) out.push(hundreds === 1 && rest > 0 ? 'num_100_combined' : `num_${hundreds * 100}`);
  if (rest > 0) out.push(...spanishTens(rest));
  return out;
}

export const es: Grammar = {
  tag: 'es',
  digits: 'right',
  number: spanish,
  plural: cldrPlural('es'),
  zero: 'one',
  date: 'day-month',
  clock: 'hour-minute',
};
