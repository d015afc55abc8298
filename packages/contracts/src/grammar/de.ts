/** German: "zweiundvierzig neue Nachrichten", "keine neuen Nachrichten", "23. November um 14 Uhr 5". */
import { cldrPlural, unitsFirst, type Grammar } from './grammar.js';

export const de: Grammar = {
  tag: 'de',
  digits: 'left',
  number: unitsFirst,
  plural: cldrPlural('de'),
  zero: 'other',
  date: 'day-month',
  clock: 'hour-oclock-minute',
};
