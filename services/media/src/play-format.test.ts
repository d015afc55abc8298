import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALAW, encodeG711, ULAW } from './g711.js';
import { runFilter } from './ffmpeg.js';
import { pcmEncoder, playDurationMs, playFormatOf, playHeader, type PlayFormat } from './play-format.js';
import { tone } from './wav.js';

const sample = (value: number) => {
  const bytes = Buffer.alloc(2);
  bytes.writeInt16LE(value);
  return bytes;
};

test('G.711 encoding is the inverse of decoding: each code comes back, each sample goes to its nearest level', () => {
  for (const [law, table] of [
    ['µ-law', ULAW],
    ['A-law', ALAW],
  ] as const) {
    for (let code = 0; code < 256; code++) {
      const again = encodeG711(table, sample(table[code]!))[0]!;
      // µ-law has two codes for zero (0x7f and 0xff); either is zero.
      assert.equal(table[again], table[code], `${law}: code ${code} (level ${table[code]}) came back as ${again}`);
    }
    const levels = [...table].sort((a, b) => a - b);
    for (let value = -32768; value <= 32767; value += 7) {
      const level = table[encodeG711(table, sample(value))[0]!]!;
      const best = Math.min(...levels.map((l) => Math.abs(l - value)));
      assert.equal(Math.abs(level - value), best, `${law}: ${value} became ${level}`);
    }
  }
});

test('play files: a codec gets its own G.711 or lossless PCM, chunk boundaries do not matter, and ffmpeg reads them back', async () => {
  assert.deepEqual(['PCMU', 'pcma', 'G722', 'opus'].map(playFormatOf), ['ulaw', 'alaw', 'pcm', 'pcm']);
  const pcm = tone(440, 250);
  for (const format of ['ulaw', 'alaw', 'pcm'] as PlayFormat[]) {
    const whole = Buffer.from(pcmEncoder(format)(pcm));
    const encode = pcmEncoder(format);
    const pieces = [1, 6, 999, 7].reduce<{ at: number; out: Buffer[] }>(
      (acc, size) => ({ at: acc.at + size, out: [...acc.out, Buffer.from(encode(pcm.subarray(acc.at, acc.at + size)))] }),
      { at: 0, out: [] },
    );
    const chunked = Buffer.concat([...pieces.out, Buffer.from(encode(pcm.subarray(pieces.at)))]);
    assert.deepEqual(chunked, whole, `${format}: chunked like the whole`);
    assert.equal(playDurationMs(format, whole.length), 250);
    const file = Buffer.concat([playHeader(format, whole.length), whole]);
    const decoded = await runFilter(['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-f', 's16le', '-ar', '8000', '-ac', '1', 'pipe:1'], file);
    assert.equal(decoded.length, pcm.length, `${format}: ffmpeg decodes every sample`);
    const error = Math.max(...Array.from({ length: pcm.length / 2 }, (_, i) => Math.abs(decoded.readInt16LE(i * 2) - pcm.readInt16LE(i * 2))));
    // G.711's largest step near the amplitude of the tone (0.4 of full scale) is 512.
    assert.ok(format === 'pcm' ? error === 0 : error <= 512, `${format}: largest error ${error}`);
  }
});
