/**
 * What a play request names, turned into one 8 kHz mono 16-bit PCM stream: prompts (with the
 * operators' recordings first), spoken numbers, greetings and messages read from storage, audio
 * staged by the platform, and the beep. Items of one request are joined into one file, in the
 * format rtpengine opens cheaply for the call's codec (play-format.ts), so rtpengine plays them
 * without gaps and one timer tells when all of them are done.
 */
import { open, readFile } from 'node:fs/promises';
import { removeFile } from './util.js';
import type { NatsConnection } from '@nats-io/nats-core';
import { openStagedAudio, readAudio, ServiceError, type Playable, type StagingBucket } from '@sipvm/contracts';
import type { PromptFiles } from './prompts.js';
import { isPlatformFormat, parseWav, scanWav, silence, tone } from './wav.js';
import { pcmEncoder, playHeader, playHeaderBytes, type PlayFormat } from './play-format.js';
import { runFilter } from './ffmpeg.js';

export interface PlayableSources {
  nc: NatsConnection;
  prompts: PromptFiles;
  staging: () => Promise<StagingBucket>;
  beep: { hz: number; ms: number };
}

/**
 * Pause between the items of one request (not between the pieces of a number, and not before a
 * beep: a greeting's beep follows it at once, as callers know it from answering machines).
 */
const GAP_MS = 80;

/**
 * Writes the items as one file in `format` and returns its audio byte count. Stored greetings,
 * messages and staged audio are streamed chunk by chunk into the file, never held whole in memory.
 */
export async function composePlayFile(items: Playable[], sources: PlayableSources, file: string, format: PlayFormat): Promise<number> {
  const out = await open(file, 'w');
  const headerBytes = playHeaderBytes(format);
  const encode = pcmEncoder(format);
  let position = headerBytes;
  const append = async (pcm: Uint8Array) => {
    const bytes = encode(pcm);
    await out.write(bytes, 0, bytes.length, position);
    position += bytes.length;
  };
  try {
    for (const [index, item] of items.entries()) {
      if (index > 0 && item.kind !== 'beep') await append(silence(GAP_MS));
      if (item.kind === 'message' || item.kind === 'greeting') {
        const ref =
          item.kind === 'message' ? { kind: item.kind, mailbox: item.mailbox, id: item.id } : { kind: item.kind, mailbox: item.mailbox, type: item.type };
        await streamPcm(readAudio(sources.nc, ref), append, `${item.kind} of ${item.mailbox.uid}@${item.mailbox.did}`);
      } else if (item.kind === 'staged') {
        await streamPcm(await openStagedAudio(await sources.staging(), item.audio), append, `staged audio ${item.audio.name}`);
      } else {
        await append(await pcmOf(item, sources));
      }
    }
    await out.write(playHeader(format, position - headerBytes), 0, headerBytes, 0);
  } catch (error) {
    await out.close();
    await removeFile(file);
    throw error;
  }
  await out.close();
  return position - headerBytes;
}

/** Writes `ms` of silence as one file in `format`; returns its audio byte count. */
export async function composeSilence(file: string, format: PlayFormat, ms: number): Promise<number> {
  const audio = pcmEncoder(format)(silence(ms));
  const out = await open(file, 'w');
  try {
    await out.write(Buffer.concat([playHeader(format, audio.length), audio]));
  } finally {
    await out.close();
  }
  return audio.length;
}

/** The PCM of a streamed WAV, appended as it arrives (converted whole only if not 8 kHz mono 16-bit). */
export async function streamPcm(chunks: AsyncIterable<Uint8Array>, append: (bytes: Uint8Array) => Promise<void>, what: string): Promise<void> {
  const iterator = chunks[Symbol.asyncIterator]();
  const rest = { [Symbol.asyncIterator]: () => iterator };
  let head = Buffer.alloc(0);
  let layout;
  while (!(layout = scanWav(head, what))) {
    const next = await iterator.next();
    if (next.done) throw new ServiceError('bad-request', `${what} has no data chunk`);
    head = Buffer.concat([head, next.value]);
    if (head.length > 1024 * 1024) throw new ServiceError('bad-request', `${what} has no data chunk in its first MiB`);
  }
  if (!isPlatformFormat(layout)) {
    const all = [head];
    for await (const chunk of rest) all.push(Buffer.from(chunk));
    await append(await pcmOfWav(Buffer.concat(all), what));
    return;
  }
  let left = layout.dataSize ?? Number.POSITIVE_INFINITY;
  const take = async (bytes: Uint8Array) => {
    const part = bytes.subarray(0, Math.min(bytes.length, left));
    left -= part.length;
    if (part.length > 0) await append(part);
  };
  await take(head.subarray(layout.dataOffset));
  for await (const chunk of rest) {
    if (left <= 0) break;
    await take(chunk);
  }
}

/** Audio that is small (prompts, numbers, the beep): read whole. */
async function pcmOf(item: Extract<Playable, { kind: 'prompt' | 'number' | 'beep' }>, sources: PlayableSources): Promise<Buffer> {
  switch (item.kind) {
    case 'prompt':
      return pcmOfWav(await readFile((await sources.prompts.find(item.name, item.language, item.domain)).path), `prompt ${item.name}`);
    case 'number': {
      const files = await sources.prompts.findNumber(item.value, item.language);
      return Buffer.concat(await Promise.all(files.map(async (file) => pcmOfWav(await readFile(file.path), file.path))));
    }
    case 'beep':
      return tone(sources.beep.hz, sources.beep.ms);
  }
}

/**
 * What makes the audio of `items` what it is, when it cannot change under the same description:
 * prompts by the file found and its time, numbers likewise, the beep by its tone, a greeting by
 * the version storage gave it. Undefined when an item has no such identity (a message, staged
 * audio, a greeting without version): then its audio is fetched for each playback.
 */
export async function identityOf(items: Playable[], sources: PlayableSources): Promise<string | undefined> {
  const parts: string[] = [];
  for (const item of items) {
    switch (item.kind) {
      case 'prompt': {
        const file = await sources.prompts.find(item.name, item.language, item.domain);
        parts.push(`prompt:${file.path}@${file.modifiedMs}`);
        break;
      }
      case 'number': {
        const files = await sources.prompts.findNumber(item.value, item.language);
        parts.push(`number:${files.map((f) => `${f.path}@${f.modifiedMs}`).join(',')}`);
        break;
      }
      case 'beep':
        parts.push(`beep:${sources.beep.hz}:${sources.beep.ms}`);
        break;
      case 'greeting':
        if (item.version === undefined) return undefined;
        parts.push(`greeting:${item.mailbox.did}/${item.mailbox.uid}/${item.type}@${item.version}`);
        break;
      default:
        return undefined;
    }
  }
  return parts.join('|');
}

/** PCM of a WAV in the platform's format, converting any other WAV with ffmpeg. */
async function pcmOfWav(bytes: Buffer, what: string): Promise<Buffer> {
  const wav = parseWav(bytes, what);
  if (isPlatformFormat(wav)) return wav.data;
  return runFilter(['-hide_banner', '-loglevel', 'error', '-f', 'wav', '-i', 'pipe:0', '-ar', '8000', '-ac', '1', '-f', 's16le', 'pipe:1'], bytes);
}
