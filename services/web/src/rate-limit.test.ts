import { it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limit.js';

it("allows a burst of a minute's allowance, then refuses with the wait until the next request", () => {
  const limiter = new RateLimiter(6); // one every 10 s
  const t0 = 1_000_000;
  for (let i = 0; i < 6; i++) assert.equal(limiter.take('a', t0).allowed, true, `request ${i + 1}`);
  const refused = limiter.take('a', t0);
  assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 10 });
  assert.deepEqual(limiter.take('a', t0 + 4_000), { allowed: false, retryAfterSeconds: 6 });
  assert.equal(limiter.take('a', t0 + 10_000).allowed, true, 'one more after 10 s');
  assert.equal(limiter.take('b', t0).allowed, true, 'other keys have their own bucket');
});

it('forgets buckets that have refilled, so many addresses do not grow memory without bound', () => {
  const limiter = new RateLimiter(60);
  for (let i = 0; i < 9_999; i++) limiter.take(`address-${i}`, 0);
  assert.equal(limiter.size, 9_999);
  limiter.take('late', 120_000);
  assert.equal(limiter.size, 1);
});
