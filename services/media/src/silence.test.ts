import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tone, silence } from './wav.js';
import { TAIL_KEPT_MS, TrailingSilence } from './silence.js';

/** The PCM kept of `pcm` once its trailing silence is cut, heard in chunks of `chunk` bytes. */
function withoutTrailingSilence(pcm: Buffer, thresholdDbfs: number, chunk = 1_234): Buffer {
  const trailing = new TrailingSilence(thresholdDbfs);
  for (let at = 0; at < pcm.length; at += chunk) {
    const part = Buffer.from(pcm.subarray(at, at + chunk));
    trailing.add(new Int16Array(part.buffer, part.byteOffset, part.length >> 1));
  }
  return pcm.subarray(0, trailing.keep() * 2);
}

const ms = (pcm: Buffer) => (pcm.length / 2 / 8000) * 1000;

test('trailing silence is cut half a second after the last loud frame; speech and pauses inside it stay', () => {
  const message = Buffer.concat([tone(1000, 1_000), silence(800), tone(500, 700), silence(3_000)]);
  const cut = withoutTrailingSilence(message, -50);
  assert.equal(ms(cut), 1_000 + 800 + 700 + TAIL_KEPT_MS);
  assert.deepEqual(cut, message.subarray(0, cut.length), 'the rest is untouched');
});

test('quiet line noise under the threshold counts as silence; a message silent throughout is kept whole', () => {
  const noise = Buffer.alloc(16_000 * 2);
  for (let i = 0; i < noise.length / 2; i++) noise.writeInt16LE(((i * 7919) % 41) - 20, i * 2); // about -66 dBFS
  assert.equal(ms(withoutTrailingSilence(Buffer.concat([tone(1000, 500), noise]), -50)), 500 + TAIL_KEPT_MS);
  assert.equal(ms(withoutTrailingSilence(noise, -50)), 2_000);
  assert.equal(withoutTrailingSilence(Buffer.alloc(0), -50).length, 0);
});

test('speech to the very end (no trailing silence) is kept whole', () => {
  const message = Buffer.concat([silence(300), tone(1000, 1_234)]);
  assert.equal(withoutTrailingSilence(message, -50).length, message.length);
});
