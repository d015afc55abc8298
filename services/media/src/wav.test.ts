import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isServiceError } from '@sipvm/contracts';
import { streamPcm } from './playables.js';
import { encodeWav, parseWav, tone } from './wav.js';

/** Splits `bytes` into chunks of `size` (a header split anywhere must not matter). */
async function* chunked(bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function streamed(bytes: Buffer, size: number): Promise<Buffer> {
  const out: Buffer[] = [];
  await streamPcm(chunked(bytes, size), async (b) => void out.push(Buffer.from(b)), 'test audio');
  return Buffer.concat(out);
}

test('stored audio streams into PCM whatever the chunk boundaries, skipping other chunks and trailing bytes', async () => {
  const pcm = tone(440, 300);
  const plain = encodeWav(pcm);
  // A LIST chunk before the data and junk after it, as other tools write.
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.alloc(1)]);
  const fancy = Buffer.concat([plain.subarray(0, 36), list, plain.subarray(36), Buffer.from('trailing')]);
  fancy.writeUInt32LE(fancy.length - 8, 4);
  for (const size of [1, 7, 44, 45, 4096]) {
    assert.deepEqual(await streamed(plain, size), pcm, `plain, chunks of ${size}`);
    assert.deepEqual(await streamed(fancy, size), pcm, `with LIST chunk, chunks of ${size}`);
  }
  assert.deepEqual(parseWav(fancy).data, pcm);
});

test('audio in another format is converted to 8 kHz mono (ffmpeg); non-WAV is a bad request', async () => {
  const wide = encodeWav(tone(440, 500).subarray(0, 8000), 16000); // 250 ms at 16 kHz
  const converted = await streamed(wide, 1000);
  assert.ok(Math.abs(converted.length - 4000) <= 64, `${converted.length} bytes`);
  await assert.rejects(streamed(Buffer.from('ID3 this is an mp3, honestly'), 8), (e) => isServiceError(e, 'bad-request'));
  await assert.rejects(streamed(encodeWav(Buffer.alloc(0)).subarray(0, 30), 8), (e) => isServiceError(e, 'bad-request'));
});
