/**
 * The platform's prompt set: names and texts in `prompts/prompts.json`, WAVs built from it
 * (prompt-builder.ts), and the operators' own recordings, which win:
 *   <override>/<domain>/<lang>/<name>.wav → <override>/<lang>/<name>.wav → <built>/<lang>/<name>.wav
 * and the same again in the default language.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PromptNameSchema, ServiceError } from '@sipvm/contracts';
import { packageRoot } from '@sipvm/service';

export const CATALOG_FILE = join(packageRoot(import.meta.url), 'prompts', 'prompts.json');

export const PromptCatalogSchema = z.object({
  languages: z.record(z.string(), z.strictObject({ voice: z.string().min(1) })),
  prompts: z.record(PromptNameSchema, z.object({ use: z.string() }).catchall(z.string())),
});
export type PromptCatalog = z.infer<typeof PromptCatalogSchema>;

export async function loadCatalog(file = CATALOG_FILE): Promise<PromptCatalog> {
  const catalog = PromptCatalogSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  for (const [name, prompt] of Object.entries(catalog.prompts)) {
    for (const language of Object.keys(catalog.languages)) {
      if (typeof prompt[language] !== 'string' || prompt[language].length === 0) throw new Error(`prompt ${name} has no ${language} text`);
    }
  }
  return catalog;
}

export interface PromptDirs {
  built: string;
  override: string | undefined;
  defaultLanguage: string;
}

const exists = (path: string) => access(path).then(() => true, () => false);

/** A prompt's file as found, and when it last changed (a new recording is new audio). */
export interface PromptFile {
  path: string;
  modifiedMs: number;
}

/**
 * Prompt lookups for the call path: the answer of `findPrompt` kept for `ttlMs`, so that a prompt
 * played on every call does not cost a walk through the override folders each time. An operator's
 * new or removed recording is heard at the latest `ttlMs` later.
 */
export class PromptFiles {
  readonly #found = new Map<string, { file: PromptFile; until: number }>();

  constructor(
    readonly dirs: PromptDirs,
    private readonly ttlMs = 30_000,
  ) {}

  async find(name: string, language: string, domain?: string): Promise<PromptFile> {
    const key = `${name}\0${language}\0${domain ?? ''}`;
    const known = this.#found.get(key);
    if (known && known.until > Date.now()) return known.file;
    const path = await findPrompt(this.dirs, name, language, domain);
    const file = { path, modifiedMs: (await stat(path)).mtimeMs };
    this.#found.set(key, { file, until: Date.now() + this.ttlMs });
    return file;
  }
}

/** The file to play for a prompt, by the lookup order above. */
export async function findPrompt(dirs: PromptDirs, name: string, language: string, domain?: string): Promise<string> {
  const candidates: string[] = [];
  for (const lang of language === dirs.defaultLanguage ? [language] : [language, dirs.defaultLanguage]) {
    if (dirs.override !== undefined) {
      if (domain !== undefined) candidates.push(join(dirs.override, domain, lang, `${name}.wav`));
      candidates.push(join(dirs.override, lang, `${name}.wav`));
    }
    candidates.push(join(dirs.built, lang, `${name}.wav`));
  }
  for (const path of candidates) if (await exists(path)) return path;
  throw new ServiceError('bad-request', `no prompt "${name}" for language ${language} (nor ${dirs.defaultLanguage})`);
}

/** The prompt pieces that speak `value` (0–9999) in `language`; other languages speak English. */
export function numberPieces(value: number, language: string): string[] {
  if (!Number.isInteger(value) || value < 0 || value > 9999) throw new ServiceError('bad-request', `cannot speak ${value}`);
  return language.startsWith('de') ? german(value) : english(value);
}

function english(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands > 0) out.push(`num_${thousands}`, 'num_thousand');
  if (hundreds > 0) out.push(`num_${hundreds}`, 'num_hundred');
  if (rest > 0 && rest < 20) out.push(`num_${rest}`);
  else if (rest >= 20) {
    out.push(`num_${rest - (rest % 10)}`);
    if (rest % 10 > 0) out.push(`num_${rest % 10}`);
  }
  return out;
}

function german(n: number): string[] {
  if (n === 0) return ['num_0'];
  const out: string[] = [];
  const prefix = (digit: number) => (digit === 1 ? 'num_1_combined' : `num_${digit}`);
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor((n % 1000) / 100);
  const rest = n % 100;
  if (thousands > 0) out.push(prefix(thousands), 'num_thousand');
  if (hundreds > 0) out.push(prefix(hundreds), 'num_hundred');
  if (rest > 0 && rest < 20) out.push(`num_${rest}`);
  else if (rest >= 20) {
    if (rest % 10 > 0) out.push(prefix(rest % 10), 'num_and');
    out.push(`num_${rest - (rest % 10)}`);
  }
  return out;
}
