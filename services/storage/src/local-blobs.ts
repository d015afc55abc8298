/**
 * The embedded backend: objects as files under one folder.
 * Writes go to a temporary file in the same folder tree and are renamed (or hard-linked, for
 * `ifAbsent`) into place, so a crash mid-write never leaves a partial object visible.
 */
import { access, link, mkdir, open, readdir, readFile, rename, stat, unlink, constants } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ServiceError } from '@sipvm/contracts';
import type { BlobInfo, BlobStore } from './blobs.js';

const TMP = '.tmp';

export class LocalBlobStore implements BlobStore {
  readonly root: string;
  readonly description: string;
  /** Folders known to exist (a folder removed behind our back fails one write, then is made again). */
  readonly #folders = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `folder ${this.root}`;
  }

  async init(): Promise<void> {
    await this.#guard('create the storage folder', () => mkdir(join(this.root, TMP), { recursive: true }));
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, size: number, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const target = this.#path(key);
    const temp = join(this.root, TMP, `${randomBytes(8).toString('hex')}.part`);
    let written = 0;
    // A rename takes the temporary name away; a hard link leaves it to remove.
    let renamed = false;
    try {
      await this.#guard(`write ${key}`, async () => {
        await this.#folder(dirname(target));
        // One handle from the first byte to the sync: the bytes are on disk before the name is.
        const handle = await open(temp, 'wx');
        try {
          for await (const chunk of body) {
            await handle.write(chunk);
            written += chunk.length;
          }
          await handle.datasync();
        } finally {
          await handle.close();
        }
      });
      if (written !== size) throw new ServiceError('bad-request', `${key}: got ${written} bytes, expected ${size}`);
      // Into place: a hard link refuses an existing name (ifAbsent), a rename replaces it.
      const place = async () => {
        if (options.ifAbsent) return link(temp, target);
        await rename(temp, target);
        renamed = true;
      };
      try {
        await place().catch(async (error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          // Its folder was removed behind our back: make it again, once.
          this.#folders.delete(dirname(target));
          await this.#folder(dirname(target));
          await place();
        });
      } catch (error) {
        if (options.ifAbsent && (error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw this.#unavailable(`write ${key}`, error);
      }
      return true;
    } finally {
      if (!renamed) await unlink(temp).catch(() => undefined);
    }
  }

  /** Creates a folder once per process (mailbox folders are made on their first message). */
  async #folder(path: string): Promise<void> {
    if (this.#folders.has(path)) return;
    await mkdir(path, { recursive: true });
    this.#folders.add(path);
    if (this.#folders.size > 100_000) this.#folders.clear();
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.#unavailable(`read ${key}`, error);
    }
  }

  async read(key: string, offset: number, length: number): Promise<{ bytes: Uint8Array; totalSize: number } | null> {
    let handle;
    try {
      handle = await open(this.#path(key), 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.#unavailable(`read ${key}`, error);
    }
    try {
      const { size } = await handle.stat();
      const wanted = Math.max(0, Math.min(length, size - offset));
      const bytes = Buffer.alloc(wanted);
      let got = 0;
      while (got < wanted) {
        const { bytesRead } = await handle.read(bytes, got, wanted - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return { bytes: bytes.subarray(0, got), totalSize: size };
    } catch (error) {
      throw this.#unavailable(`read ${key}`, error);
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const s = await stat(this.#path(key));
      return { key, size: s.size, modified: s.mtime };
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.#unavailable(`stat ${key}`, error);
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const infos = await Promise.all((await this.keys(prefix)).map((key) => this.head(key)));
    return infos.filter((info): info is BlobInfo => info !== null);
  }

  /** Directory listings only: no stat per file (a mailbox of thousands is counted in a few ms). */
  async keys(prefix: string): Promise<string[]> {
    const found: string[] = [];
    // Keys are built as strings alongside the paths: no path arithmetic per file.
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw this.#unavailable(`list ${prefix}`, error);
      }
      for (const entry of entries) {
        if (entry.isDirectory()) await walk(join(dir, entry.name), `${keyPrefix}${entry.name}/`);
        else if (entry.isFile()) found.push(keyPrefix + entry.name);
      }
    };
    const start = this.#path(prefix);
    await walk(start, prefix.endsWith('/') || prefix === '' ? prefix : `${relative(this.root, start).split(sep).join('/')}/`);
    return found;
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.#path(key));
    } catch (error) {
      if (!isMissing(error)) throw this.#unavailable(`delete ${key}`, error);
    }
  }

  async ping(): Promise<void> {
    await this.#guard('reach the storage folder', () => access(join(this.root, TMP), constants.W_OK));
  }

  /** Keys are built from validated ids; this is the second line of defence against escaping the root. */
  #path(key: string): string {
    const path = resolve(this.root, key);
    if (path !== this.root && !path.startsWith(this.root + sep)) throw new ServiceError('bad-request', `key escapes the storage folder: ${key}`);
    return path;
  }

  async #guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw this.#unavailable(what, error);
    }
  }

  #unavailable(what: string, error: unknown): ServiceError {
    return new ServiceError('storage-unavailable', `cannot ${what} in ${this.description}: ${(error as Error).message}`, { cause: error });
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
