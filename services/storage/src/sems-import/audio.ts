/**
 * A SEMS recording made ready for storage: checked, and converted when it is not in the
 * platform's format (8 kHz mono 16-bit PCM WAV). SEMS wrote PCM WAVs by default, A-law or µ-law
 * WAVs when so configured, and MP3 with rec_file_ext=mp3; all but the first go through ffmpeg
 * (FFMPEG_BIN), as media does with audio of other formats. A file that cannot be read as audio —
 * not RIFF/WAVE, a header SEMS never finished, a data chunk longer than the file — is damaged:
 * it is reported, and nothing of it is written.
 *
 * Files are read without changing their access time (O_NOATIME, else the times are put back),
 * since the access time is what tells SEMS, and a second run, that a message is new.
 */
import { spawn } from 'node:child_process';
import { constants, createReadStream } from 'node:fs';
import { open, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { scanWav, type WavLayout } from '@sipvm/contracts';
import type { SemsFile } from './sems-folder.js';

/** What the header must hold within its first bytes. */
const HEADER_BYTES = 64 * 1024;
const PLATFORM_FORMAT = { format: 1, sampleRate: 8000, channels: 1, bitsPerSample: 16 };

export interface AudioOptions {
  ffmpeg: string;
  /** Where converted audio waits until it is stored. */
  tmpDir: string;
}

export type PreparedAudio =
  | {
      ok: true;
      durationMs: number;
      /** The encoding SEMS stored it in (SDP names where there is one): L16, PCMA, PCMU, MP3, … */
      codec: string;
      /** The bytes to store, read as they are needed. */
      read(): AsyncIterable<Uint8Array>;
      dispose(): Promise<void>;
    }
  | { ok: false; reason: string };

let converted = 0;

export async function prepareAudio(file: SemsFile, options: AudioOptions): Promise<PreparedAudio> {
  const head = await readHead(file);
  let layout: WavLayout | undefined;
  try {
    layout = scanWav(head, 'it', { pcmOnly: false });
  } catch (error) {
    if (file.extension === 'wav') return { ok: false, reason: `damaged: ${(error as Error).message}` };
    return convert(file, options, file.extension.toUpperCase() || 'unknown');
  }
  if (layout === undefined) return { ok: false, reason: 'damaged: no fmt and data chunk where a WAV header has them' };
  if (layout.dataSize === undefined) return { ok: false, reason: 'damaged: the header announces no length (SEMS never finished writing it)' };
  const held = file.size - layout.dataOffset;
  if (layout.dataSize > held)
    return { ok: false, reason: `damaged: truncated (the header announces ${layout.dataSize} bytes of audio, the file holds ${Math.max(0, held)})` };
  if (layout.dataSize === 0) return { ok: false, reason: 'no audio in it' };
  const codec = codecOf(layout.format);
  if (!isPlatformFormat(layout)) return convert(file, options, codec);
  return {
    ok: true,
    durationMs: Math.round(layout.dataSize / 16),
    codec,
    read: () => readQuietly(file),
    dispose: async () => undefined,
  };
}

function isPlatformFormat(layout: WavLayout): boolean {
  return (
    (layout.format === 1 || layout.format === 0xfffe) &&
    layout.sampleRate === PLATFORM_FORMAT.sampleRate &&
    layout.channels === 1 &&
    layout.bitsPerSample === 16
  );
}

function codecOf(format: number): string {
  return ({ 1: 'L16', 0xfffe: 'L16', 6: 'PCMA', 7: 'PCMU' } as Record<number, string>)[format] ?? `WAV-${format}`;
}

/** ffmpeg's reading of the file, as the platform's WAV in a file of its own (a seekable output gets a whole header). */
async function convert(file: SemsFile, options: AudioOptions, codec: string): Promise<PreparedAudio> {
  const out = join(options.tmpDir, `converted-${process.pid}-${converted++}.wav`);
  const dispose = () => rm(out, { force: true });
  const failure = await runFfmpeg(options.ffmpeg, Readable.from(readQuietly(file)), out);
  if (failure !== undefined) {
    await dispose();
    return { ok: false, reason: failure };
  }
  const head = await readHead({ path: Buffer.from(out) });
  const layout = scanWav(head, 'converted audio');
  if (!layout?.dataSize) {
    await dispose();
    return { ok: false, reason: 'damaged: ffmpeg found no audio in it' };
  }
  return { ok: true, durationMs: Math.round(layout.dataSize / 16), codec, read: () => createReadStream(out), dispose };
}

function runFfmpeg(ffmpeg: string, input: Readable, out: string): Promise<string | undefined> {
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-i',
    'pipe:0',
    '-vn',
    '-ar',
    '8000',
    '-ac',
    '1',
    '-c:a',
    'pcm_s16le',
    '-f',
    'wav',
    '-y',
    out,
  ];
  return new Promise((resolve) => {
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.once('error', (error) => resolve(`needs ffmpeg to convert it (${ffmpeg}: ${error.message})`));
    child.once('close', (code) => resolve(code === 0 ? undefined : `damaged: ffmpeg cannot read it (${errors.trim().split('\n').pop() ?? `exit ${code}`})`));
    input.once('error', () => child.stdin.destroy());
    child.stdin.on('error', () => undefined); // ffmpeg may stop reading early; its exit code tells
    input.pipe(child.stdin);
  });
}

async function readHead(file: Pick<SemsFile, 'path'>): Promise<Buffer> {
  const { handle, done } = await openQuietly(file.path);
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await done();
  }
}

async function* readQuietly(file: Pick<SemsFile, 'path'>): AsyncIterable<Uint8Array> {
  const { handle, done } = await openQuietly(file.path);
  try {
    for await (const chunk of handle.createReadStream({ autoClose: false })) yield chunk as Buffer;
  } finally {
    await done();
  }
}

/**
 * Opens a file for reading without touching its access time: O_NOATIME (allowed to the file's
 * owner and root), or else a plain open whose times are put back when done.
 */
async function openQuietly(path: Buffer): Promise<{ handle: FileHandle; done(): Promise<void> }> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOATIME);
    return { handle, done: () => handle.close() };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
  const before = await stat(path);
  const handle = await open(path, 'r');
  return {
    handle,
    async done() {
      await handle.close();
      await utimes(path, before.atime, before.mtime).catch(() => undefined);
    },
  };
}
