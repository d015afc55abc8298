import { it } from 'node:test';
import assert from 'node:assert/strict';
import { wavHeader } from '@sipvm/contracts';
import { checkGreetingWav } from './greeting-upload.js';
import { HttpError } from './http/problem.js';

const samples = (ms: number) => Buffer.alloc((ms / 1000) * 16_000, 7);

function wav(options: { rate?: number; channels?: number; bits?: number; data: Buffer; extra?: Buffer }): Buffer {
  const header = wavHeader(options.data.length, options.rate ?? 8000);
  header.writeUInt16LE(options.channels ?? 1, 22);
  header.writeUInt16LE(options.bits ?? 16, 34);
  if (!options.extra) return Buffer.concat([header, options.data]);
  // A LIST chunk between fmt and data, as some recorders write.
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.alloc(4), options.extra]);
  list.writeUInt32LE(options.extra.length, 4);
  return Buffer.concat([header.subarray(0, 36), list, header.subarray(36), options.data]);
}

const refused = (bytes: Buffer, pattern: RegExp) =>
  assert.throws(
    () => checkGreetingWav(bytes, 10_000),
    (error: unknown) => error instanceof HttpError && error.status === 400 && pattern.test(error.detail),
  );

it('keeps the samples of an 8 kHz mono 16-bit WAV under the canonical header, dropping other chunks', () => {
  const data = samples(1000);
  const stored = checkGreetingWav(wav({ data, extra: Buffer.from('INFOISFTrecorder') }), 10_000);
  assert.deepEqual(stored, Buffer.concat([wavHeader(data.length), data]));
});

it('refuses what is not the platform format, with the reason', () => {
  refused(Buffer.from('not a wav at all, just text'), /not a RIFF\/WAVE file/);
  refused(wav({ rate: 44_100, data: samples(1000) }), /8000 Hz; it is 16-bit, 1 channel\(s\), 44100 Hz/);
  refused(wav({ channels: 2, data: samples(1000) }), /mono/);
  refused(wav({ bits: 8, data: samples(1000) }), /16-bit/);
  refused(wavHeader(100).subarray(0, 30), /not a complete WAV file/);
});

it('refuses greetings that are too short, too long or cut short', () => {
  refused(wav({ data: samples(100) }), /too short/);
  refused(wav({ data: samples(11_000) }), /too long \(11\.0 s; at most 10 s\)/);
  refused(wav({ data: samples(1000) }).subarray(0, 5000), /cut short/);
});
