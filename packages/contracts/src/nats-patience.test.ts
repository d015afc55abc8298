import { it } from 'node:test';
import assert from 'node:assert/strict';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { isRevisionConflict, untilAvailable } from './nats-patience.js';

const conflict = () => new JetStreamApiError({ code: 400, err_code: JetStreamApiCodes.StreamWrongLastSequence, description: 'wrong last sequence: 7' });

it('tries again until the operation works', async () => {
  let attempts = 0;
  const result = await untilAvailable(
    async () => {
      if (++attempts < 3) throw new Error('jetstream is not enabled');
      return 'done';
    },
    { deadlineMs: 5_000 },
  );
  assert.deepEqual([result, attempts], ['done', 3]);
});

it('gives up at the deadline with the last error', async () => {
  let attempts = 0;
  await assert.rejects(
    untilAvailable(
      async () => {
        attempts++;
        throw new Error(`unavailable ${attempts}`);
      },
      { deadlineMs: 200 },
    ),
    (error: Error) => error.message === `unavailable ${attempts}` && attempts > 1,
  );
});

it('does not try again what another attempt cannot change: a lost compare-and-set', async () => {
  let attempts = 0;
  await assert.rejects(
    untilAvailable(
      async () => {
        attempts++;
        throw conflict();
      },
      { deadlineMs: 5_000, isFinal: isRevisionConflict },
    ),
    isRevisionConflict,
  );
  assert.equal(attempts, 1);
  assert.equal(isRevisionConflict(new Error('jetstream is not enabled')), false);
});
