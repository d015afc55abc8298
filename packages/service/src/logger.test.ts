/**
 * What a log line may not carry: P-App-Param's `pin=` digits, wherever a mangled request put them
 * (a mailbox, a reason, a nested field). The line is what a service writes, read back as JSON.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, withoutPins } from './logger.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

it('writes no PIN digits, whichever field they came in', () => {
  const { stream, lines } = capture();
  const log = createLogger('signaling', 'vm-1', 'info', stream);
  log.info({ mailbox: { uid: 'pin=1234', did: 'example.org' }, reason: 'Bad Request (usr=alice;PIN = 98765)', tries: [{ said: 'pin=42' }] }, 'call started');
  const [line] = lines();
  assert.deepEqual(line?.mailbox, { uid: 'pin=#', did: 'example.org' });
  assert.equal(line?.reason, 'Bad Request (usr=alice;PIN = #)');
  assert.deepEqual(line?.tries, [{ said: 'pin=#' }]);
  assert.equal(line?.msg, 'call started');
  assert.doesNotMatch(JSON.stringify(line), /pin\s*=\s*\d/i);
});

it('leaves everything else as it was', () => {
  assert.equal(withoutPins('sip:+4930123456@example.org'), 'sip:+4930123456@example.org');
  assert.equal(withoutPins('spin=3'), 'spin=#', 'a key that ends in pin is masked too: better one mask too many');
  assert.deepEqual(withoutPins({ counts: { new: 2, saved: 1 }, ok: true, at: null }), { counts: { new: 2, saved: 1 }, ok: true, at: null });
  const error = new Error('pin=1234');
  assert.equal(withoutPins({ err: error }).err, error, 'errors are left to their serializer');
});
