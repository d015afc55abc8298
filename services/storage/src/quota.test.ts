import { it } from 'node:test';
import assert from 'node:assert/strict';
import { quotaCrossing } from './quota.js';

it('tells the owner once at the warning share and once at the limit, never in between or beyond', () => {
  const told = [];
  for (let count = 0; count < 12; count++) told.push(quotaCrossing(10, 80, count, count + 1) ?? '-');
  assert.deepEqual(told, ['-', '-', '-', '-', '-', '-', '-', 'mailbox-almost-full', '-', 'mailbox-full', '-', '-']);
});

it('says nothing without a limit, when nothing was added, or below the share', () => {
  assert.equal(quotaCrossing(0, 80, 5, 6), undefined);
  assert.equal(quotaCrossing(10, 80, 8, 8), undefined);
  assert.equal(quotaCrossing(10, undefined, 7, 8), undefined);
  assert.equal(quotaCrossing(10, undefined, 9, 10), 'mailbox-full');
  // A share that rounds to the limit itself is the limit's notice only.
  assert.equal(quotaCrossing(2, 90, 1, 2), 'mailbox-full');
});
