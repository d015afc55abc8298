import { it } from 'node:test';
import assert from 'node:assert/strict';
import { smallWav, wavHeader } from '@sipvm/harness';
import { checkWav, NotPcmWavError } from './audio-check.js';

/** Feeds the bytes in small, odd-sized pieces, as a network stream would. */
async function* pieces(bytes: Uint8Array, size = 37) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

it('measures duration from the samples and finds the loudest frame of a tone', async () => {
  const result = await checkWav(pieces(smallWav(3)));
  assert.equal(result.durationMs, 3000);
  // amplitude 8000 of 32768: a sine's RMS is about -15 dBFS
  assert.ok(result.loudestFrameDbfs > -16 && result.loudestFrameDbfs < -14, String(result.loudestFrameDbfs));
});

it('reports digital silence as -Infinity, and a quiet hiss as quiet', async () => {
  const silence = Buffer.concat([wavHeader(16000), Buffer.alloc(16000)]);
  assert.equal((await checkWav(pieces(silence))).loudestFrameDbfs, -Infinity);
  const hiss = Buffer.alloc(16000);
  for (let i = 0; i < 8000; i++) hiss.writeInt16LE(i % 2 ? 20 : -20, i * 2);
  const level = (await checkWav(pieces(Buffer.concat([wavHeader(16000), hiss])))).loudestFrameDbfs;
  assert.ok(level < -60, String(level));
});

it('refuses what is not 16-bit PCM WAV', async () => {
  await assert.rejects(checkWav(pieces(Buffer.from('RIFF\0\0\0\0AVI LIST'))), NotPcmWavError);
  const alaw = Buffer.from(wavHeader(8000));
  alaw.writeUInt16LE(6, 20); // format 6 = A-law
  await assert.rejects(checkWav(pieces(Buffer.concat([alaw, Buffer.alloc(8000)]))), /unsupported WAV format 6/);
});
