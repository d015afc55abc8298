/** English: "forty-two new messages", "no new messages", "November 23 at 14 05". */
import { cldrPlural, tensFirst, type Grammar } from './grammar.js';

export const en: Grammar = {
  tag: 'en',
  digits: 'right',
  number: tensFirst,
  plural: cldrPlural('en'),
  zero: 'other',
  date: 'month-day',
  clock: 'hour-minute',
};
