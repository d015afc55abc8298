import { it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedMutex } from './keyed-mutex.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

it('runs work for one key one at a time, in arrival order, and other keys freely', async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  const job = (key: string, name: string) =>
    mutex.run(key, async () => {
      log.push(`${name}+`);
      await tick();
      await tick();
      log.push(`${name}-`);
    });
  await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);
  assert.deepEqual(
    log.filter((e) => e.startsWith('a')),
    ['a1+', 'a1-', 'a2+', 'a2-'],
  );
  assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), 'key b did not wait for key a');
});

it('releases the key when the work fails', async () => {
  const mutex = new KeyedMutex();
  await assert.rejects(
    mutex.run('k', async () => {
      throw new Error('boom');
    }),
  );
  assert.equal(await mutex.run('k', async () => 42), 42);
});
