/**
 * The files rtpengine plays. The items of one play request are joined into one WAV (playables.ts).
 * When the items name audio that cannot change under the same description — prompts, numbers,
 * the beep, a greeting of a given version — the file is kept and played again for the next call
 * that asks for the same items, instead of being fetched, joined and written anew: a mailbox's
 * greeting and beep are the same for every caller. Kept files are bounded in bytes, least recently
 * played out first; everything else is written for one playback and removed after it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Playable } from '@sipvm/contracts';
import { composePlayFile, composeSilence, identityOf, type PlayableSources } from './playables.js';
import { playDurationMs, playFileExtension, playHeaderBytes, type PlayFormat } from './play-format.js';
import { removeFile } from './util.js';

/** The length of the silence file looped while nothing else plays: rtpengine reopens it this often. */
const SILENCE_MS = 30_000;

export interface PlayFile {
  path: string;
  durationMs: number;
  /** Written for this playback only: remove it when the playback is over. */
  temporary: boolean;
}

interface Kept {
  path: string;
  bytes: number;
  durationMs: number;
}

export class PlayFiles {
  readonly #kept = new Map<string, Kept>();
  readonly #writing = new Map<string, Promise<Kept>>();
  readonly #silences = new Map<PlayFormat, Promise<PlayFile>>();
  #keptBytes = 0;
  #written = 0;

  private constructor(private readonly options: { dir: string; sources: PlayableSources; maxKeptBytes: number }) {}

  /** The folder shared with rtpengine; files kept by an earlier run are removed (their identity is unknown now). */
  static async open(options: { dir: string; sources: PlayableSources; maxKeptBytes: number }): Promise<PlayFiles> {
    const keptDir = join(options.dir, 'kept');
    await mkdir(keptDir, { recursive: true });
    for (const name of await readdir(keptDir)) await removeFile(join(keptDir, name));
    return new PlayFiles(options);
  }

  get keptBytes(): number {
    return this.#keptBytes;
  }

  /**
   * A file of silence in `format` (SILENCE_MS long, written once per format): what rtpengine plays
   * to a caller while nothing else plays (player.ts), looped.
   */
  async silence(format: PlayFormat): Promise<PlayFile> {
    let file = this.#silences.get(format);
    if (!file) {
      const path = join(this.options.dir, 'kept', `silence-${format}-${SILENCE_MS}ms.${playFileExtension(format)}`);
      file = composeSilence(path, format, SILENCE_MS).then((bytes) => ({ path, durationMs: playDurationMs(format, bytes), temporary: false }));
      this.#silences.set(format, file);
      file.catch(() => this.#silences.delete(format));
    }
    return file;
  }

  /** The file of `items` in `format` (play-format.ts: by the call's codec). */
  async fileFor(items: Playable[], name: string, format: PlayFormat): Promise<PlayFile> {
    const described = this.options.maxKeptBytes > 0 ? await identityOf(items, this.options.sources) : undefined;
    if (described === undefined) {
      const path = join(this.options.dir, `${name}-${this.#written++}.${playFileExtension(format)}`);
      return { path, durationMs: playDurationMs(format, await composePlayFile(items, this.options.sources, path, format)), temporary: true };
    }
    const identity = `${format}|${described}`;
    const known = this.#kept.get(identity);
    if (known) {
      // Most recently played last: the eviction order.
      this.#kept.delete(identity);
      this.#kept.set(identity, known);
      return { path: known.path, durationMs: known.durationMs, temporary: false };
    }
    let writing = this.#writing.get(identity);
    if (!writing) {
      writing = this.#keep(identity, items, format).finally(() => this.#writing.delete(identity));
      this.#writing.set(identity, writing);
    }
    const kept = await writing;
    return { path: kept.path, durationMs: kept.durationMs, temporary: false };
  }

  async #keep(identity: string, items: Playable[], format: PlayFormat): Promise<Kept> {
    const path = join(this.options.dir, 'kept', `${createHash('sha1').update(identity).digest('hex')}.${playFileExtension(format)}`);
    const bytes = await composePlayFile(items, this.options.sources, path, format);
    const kept = { path, bytes: bytes + playHeaderBytes(format), durationMs: playDurationMs(format, bytes) };
    this.#kept.set(identity, kept);
    this.#keptBytes += kept.bytes;
    for (const [oldest, entry] of this.#kept) {
      if (this.#keptBytes <= this.options.maxKeptBytes || oldest === identity) break;
      this.#kept.delete(oldest);
      this.#keptBytes -= entry.bytes;
      // A playback that started from it goes on: rtpengine has the file open.
      await removeFile(entry.path);
    }
    return kept;
  }
}
