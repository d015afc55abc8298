/**
 * Builds the prompt WAVs (8 kHz mono 16-bit) from the catalog with espeak-ng and sox. The WAVs are
 * built, not committed: the catalog is the source, a text change is one line in review, and the
 * repository carries no megabytes of generated audio. A stamp with the catalog's hash tells
 * whether a folder is up to date, so the service builds only what is missing or changed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CATALOG_FILE, loadCatalog } from './prompts.js';

export const ESPEAK = process.env.ESPEAK_BIN ?? 'espeak-ng';
export const SOX = process.env.SOX_BIN ?? 'sox';
const BUILDER_VERSION = '1';
const STAMP = '.catalog-sha256';

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', (error) => reject(new Error(`cannot run ${command} (is it installed?): ${error.message}`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} failed (${code}): ${err.trim()}`))));
  });
}

async function catalogHash(catalogFile: string): Promise<string> {
  return createHash('sha256')
    .update(BUILDER_VERSION)
    .update(await readFile(catalogFile))
    .digest('hex');
}

export async function promptsUpToDate(dir: string, catalogFile = CATALOG_FILE): Promise<boolean> {
  const stamp = await readFile(join(dir, STAMP), 'utf8').catch(() => '');
  return stamp.trim() === (await catalogHash(catalogFile));
}

/** Builds every prompt of the catalog into `<dir>/<lang>/<name>.wav` unless already up to date. */
export async function buildPrompts(dir: string, options: { catalogFile?: string; parallel?: number; force?: boolean } = {}): Promise<{ built: number }> {
  const catalogFile = options.catalogFile ?? CATALOG_FILE;
  if (!options.force && (await promptsUpToDate(dir, catalogFile))) return { built: 0 };
  const catalog = await loadCatalog(catalogFile);
  const jobs: { text: string; voice: string; out: string }[] = [];
  for (const [language, { voice }] of Object.entries(catalog.languages)) {
    await mkdir(join(dir, language), { recursive: true });
    for (const [name, prompt] of Object.entries(catalog.prompts)) {
      jobs.push({ text: prompt[language] ?? '', voice, out: join(dir, language, `${name}.wav`) });
    }
  }
  const tmp = join(dir, `.tmp-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next]!;
      const raw = join(tmp, `${next++}.wav`);
      await run(ESPEAK, ['-v', job.voice, '-s', '150', '-w', raw, job.text]);
      const converted = `${raw}.8k.wav`;
      // 8 kHz mono 16-bit; leading and trailing silence trimmed so pieces join without holes.
      await run(SOX, [
        raw,
        '-r',
        '8000',
        '-c',
        '1',
        '-b',
        '16',
        converted,
        'silence',
        '1',
        '0.02',
        '0.5%',
        'reverse',
        'silence',
        '1',
        '0.02',
        '0.5%',
        'reverse',
        'norm',
        '-3',
      ]);
      await rename(converted, job.out);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.parallel ?? 4 }, worker));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await writeFile(join(dir, STAMP), `${await catalogHash(catalogFile)}\n`);
  return { built: jobs.length };
}
