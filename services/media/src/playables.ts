/**
 * What a play request names, turned into one 8 kHz mono 16-bit PCM stream: prompts (with the
 * operators' recordings first), spoken numbers, greetings and messages read from storage, audio
 * staged by the platform, and the beep. Items of one request are joined into one file, so
 * rtpengine plays them without gaps and one timer tells when all of them are done.
 */
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ObjectStore } from '@nats-io/obj';
import { openStagedAudio, readAudio, type Playable } from '@sipvm/contracts';
import { findPrompt, numberPieces, type PromptDirs } from './prompts.js';
import { isPlatformFormat, parseWav, silence, tone } from './wav.js';
import { runFilter } from './ffmpeg.js';

export interface PlayableSources {
  nc: NatsConnection;
  prompts: PromptDirs;
  staging: () => Promise<ObjectStore>;
  beep: { hz: number; ms: number };
}

/** Pause between the items of one request (not between the pieces of a number). */
const GAP_MS = 80;

export async function composePcm(items: Playable[], sources: PlayableSources): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const [index, item] of items.entries()) {
    if (index > 0) parts.push(silence(GAP_MS));
    parts.push(await pcmOf(item, sources));
  }
  return Buffer.concat(parts);
}

async function pcmOf(item: Playable, sources: PlayableSources): Promise<Buffer> {
  switch (item.kind) {
    case 'prompt':
      return pcmOfWav(await readFile(await findPrompt(sources.prompts, item.name, item.language, item.domain)), `prompt ${item.name}`);
    case 'number': {
      const pieces = numberPieces(item.value, item.language);
      const files = await Promise.all(pieces.map((name) => findPrompt(sources.prompts, name, item.language)));
      return Buffer.concat(await Promise.all(files.map(async (file) => pcmOfWav(await readFile(file), file))));
    }
    case 'beep':
      return tone(sources.beep.hz, sources.beep.ms);
    case 'message':
    case 'greeting': {
      const chunks: Uint8Array[] = [];
      const ref = item.kind === 'message' ? { kind: item.kind, mailbox: item.mailbox, id: item.id } : { kind: item.kind, mailbox: item.mailbox, type: item.type };
      for await (const chunk of readAudio(sources.nc, ref)) chunks.push(chunk);
      return pcmOfWav(Buffer.concat(chunks), `${item.kind} of ${item.mailbox.uid}@${item.mailbox.did}`);
    }
    case 'staged': {
      const stream = await openStagedAudio(await sources.staging(), item.audio);
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      return pcmOfWav(Buffer.concat(chunks), `staged audio ${item.audio.name}`);
    }
  }
}

/** PCM of a WAV in the platform's format, converting any other WAV with ffmpeg. */
async function pcmOfWav(bytes: Buffer, what: string): Promise<Buffer> {
  const wav = parseWav(bytes, what);
  if (isPlatformFormat(wav)) return wav.data;
  return runFilter(['-hide_banner', '-loglevel', 'error', '-f', 'wav', '-i', 'pipe:0', '-ar', '8000', '-ac', '1', '-f', 's16le', 'pipe:1'], bytes);
}
