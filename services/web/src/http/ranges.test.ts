import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ifRangeAllows, noneMatch, parseRange } from './ranges.js';

it('reads the single ranges browsers and download tools send', () => {
  assert.deepEqual(parseRange('bytes=0-', 1000), { kind: 'partial', start: 0, end: 999 });
  assert.deepEqual(parseRange('bytes=100-199', 1000), { kind: 'partial', start: 100, end: 199 });
  assert.deepEqual(parseRange('bytes=900-5000', 1000), { kind: 'partial', start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { kind: 'partial', start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { kind: 'partial', start: 0, end: 999 });
});

it('answers what it cannot satisfy with 416 and what it does not understand with everything', () => {
  assert.deepEqual(parseRange('bytes=1000-', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 1000), { kind: 'unsatisfiable' });
  for (const header of [undefined, 'bytes=5-1', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=a-b']) {
    assert.deepEqual(parseRange(header, 1000), { kind: 'whole' }, String(header));
  }
});

it('applies a Range only when If-Range names the current entity tag, and matches If-None-Match', () => {
  assert.equal(ifRangeAllows(undefined, '"a"'), true);
  assert.equal(ifRangeAllows('"a"', '"a"'), true);
  assert.equal(ifRangeAllows('"b"', '"a"'), false);
  assert.equal(ifRangeAllows('Sat, 01 Jan 2000 00:00:00 GMT', '"a"'), false);
  assert.equal(noneMatch('"x", "a"', '"a"'), true);
  assert.equal(noneMatch('W/"a"', '"a"'), true);
  assert.equal(noneMatch('*', '"a"'), true);
  assert.equal(noneMatch('"b"', '"a"'), false);
});
