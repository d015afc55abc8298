/**
 * The project's test speech: what a caller says, spoken by espeak-ng and made 8 kHz telephone
 * audio by sox (the rate every G.711 call carries), and the word error rate of what an engine
 * heard. The transcription tests and the transcription benchmark (bench/transcription.bench.mjs)
 * use the same sentences.
 */
import { spawnSync } from 'node:child_process';
import { wavHeader } from '@sipvm/contracts';

/** Voicemail as callers leave it: names, times, numbers, a request to call back. */
export const TEST_SENTENCES: readonly string[] = [
  'Hello, this is John from the garage. Your car is ready, you can pick it up tomorrow morning. Please call me back.',
  'Hi Anna, it is your mother. I just wanted to hear how you are doing. Call me when you have a minute.',
  'Good afternoon, this is the dentist calling to confirm your appointment on Thursday at ten thirty.',
  'This message is for Peter. The meeting has been moved to Monday at nine. Please let me know if that works for you.',
  'Hey, it is Mike. I am running about twenty minutes late, so start without me. See you soon.',
  'Hello, I am calling about the flat you advertised. Is it still available? My number is five five five, one two three four.',
  'This is a reminder from the library. The books you borrowed are due back next Friday.',
  'Hi, it is Sarah from work. Could you send me the report before the end of the day? Thanks a lot.',
];

/** `text` spoken (espeak-ng, American English, 150 words a minute) as 8 kHz mono 16-bit samples. */
export function spokenPcm(text: string, options: { voice?: string; wordsPerMinute?: number } = {}): Int16Array {
  const espeak = spawnSync('espeak-ng', ['-v', options.voice ?? 'en-us', '-s', String(options.wordsPerMinute ?? 150), '--stdout', text], {
    maxBuffer: 64 * 1024 * 1024,
  });
  if (espeak.status !== 0) throw new Error(`espeak-ng failed: ${espeak.error?.message ?? espeak.stderr.toString()}`);
  // -R: dithered from a fixed seed, so the same text is always the same audio.
  const sox = spawnSync('sox', ['-R', '-t', 'wav', '-', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', '-'], {
    input: espeak.stdout,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (sox.status !== 0) throw new Error(`sox failed: ${sox.error?.message ?? sox.stderr.toString()}`);
  const bytes = Buffer.from(sox.stdout);
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
}

/** The same as a WAV file (the platform's format: what media stages for a G.711 call). */
export function spokenWav(text: string, options: { voice?: string; wordsPerMinute?: number } = {}): Buffer {
  const pcm = spokenPcm(text, options);
  return Buffer.concat([wavHeader(pcm.byteLength), Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)]);
}

/** Lower case words, punctuation dropped ("it's" stays one word). */
export function wordsOf(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9' ]+/g, ' ')
    .split(/\s+/)
    .filter((word) => word !== '');
}

/**
 * Word errors (substitutions, deletions, insertions: the edit distance between the word lists)
 * of `heard` against what was `said`; the rate is errors per word said. 1.0 is as bad as hearing
 * nothing; more than 1 is possible (words heard that were never said).
 */
export function wordErrors(said: string, heard: string): { errors: number; words: number; rate: number } {
  const reference = wordsOf(said);
  const hypothesis = wordsOf(heard);
  let previous = Array.from({ length: hypothesis.length + 1 }, (_, j) => j);
  for (let i = 1; i <= reference.length; i++) {
    const row = [i];
    for (let j = 1; j <= hypothesis.length; j++) {
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  const errors = previous[hypothesis.length] ?? 0;
  return { errors, words: reference.length, rate: reference.length === 0 ? 0 : errors / reference.length };
}
