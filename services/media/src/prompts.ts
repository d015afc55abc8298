/**
 * The platform's prompt set: names and texts in `prompts/prompts.json`, WAVs built from it
 * (prompt-builder.ts), the operators' own recordings, and SEMS's prompt folders (sems-prompts.ts),
 * in this order:
 *   <override>/<domain>/<lang>/<name>.wav → <override>/<lang>/<name>.wav   (the caller's language)
 *   SEMS's folders, in SEMS's order                                        (the caller's language, or none)
 *   <built>/<lang>/<name>.wav
 * and the same again in the default language. `<lang>` is each folder name of the language
 * (contracts' languages.ts: `german` is looked for in `german/` and `de/`). A language without
 * the prompt plays the default language's, with one warning per language.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { digitOrder, grammarOf, languageFolders, numberPieces as byDigitOrder, PromptNameSchema, ServiceError, type DigitOrder } from '@sipvm/contracts';
import { packageRoot } from '@sipvm/service';
import { semsNumberFolders, semsNumberPieces, semsPromptCandidates, type SemsPromptDirs } from './sems-prompts.js';

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
  /** SEMS's prompt folders, when the operator points at them. */
  sems?: SemsPromptDirs | undefined;
  /** Digit order per language, over the languages' own (PROMPTS_DIGIT_ORDER). */
  digitOrders?: ReadonlyMap<string, DigitOrder> | undefined;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A prompt's file as found, and when it last changed (a new recording is new audio). */
export interface PromptFile {
  path: string;
  modifiedMs: number;
}

/** A prompt's file as found, and whether it is the default language's for want of the caller's. */
export interface FoundPrompt {
  path: string;
  fallback: boolean;
}

/**
 * Prompt lookups for the call path: the answer of `findPrompt` kept for `ttlMs`, so that a prompt
 * played on every call does not cost a walk through the override folders each time. An operator's
 * new or removed recording is heard at the latest `ttlMs` later.
 */
export class PromptFiles {
  readonly #found = new Map<string, { files: PromptFile[]; until: number }>();
  readonly #warned = new Set<string>();

  constructor(
    readonly dirs: PromptDirs,
    private readonly ttlMs = 30_000,
    /** Told once per language that lacks prompts and plays the default language's instead. */
    private readonly onFallback: (language: string, defaultLanguage: string) => void = () => undefined,
  ) {}

  async find(name: string, language: string, domain?: string): Promise<PromptFile> {
    const [file] = await this.#cached(`${name}\0${language}\0${domain ?? ''}`, async () => [
      await this.#file(await findPrompt(this.dirs, name, language, domain), language),
    ]);
    return file as PromptFile;
  }

  /** The files that speak `value` in `language`: a SEMS voicebox set's count pieces if it has them, else the platform's. */
  async findNumber(value: number, language: string): Promise<PromptFile[]> {
    const order = digitOrder(language, this.dirs.digitOrders);
    return this.#cached(`#${value}\0${language}`, async () => {
      const sems = this.dirs.sems && (await findSemsNumber(this.dirs.sems, value, order, languageFolders(language)));
      if (sems) return Promise.all(sems.map((path) => this.#file({ path, fallback: false }, language)));
      return Promise.all(numberPieces(value, language, order).map((piece) => this.find(piece, language)));
    });
  }

  async #cached(key: string, look: () => Promise<PromptFile[]>): Promise<PromptFile[]> {
    const known = this.#found.get(key);
    if (known && known.until > Date.now()) return known.files;
    const files = await look();
    this.#found.set(key, { files, until: Date.now() + this.ttlMs });
    return files;
  }

  async #file(found: FoundPrompt, language: string): Promise<PromptFile> {
    if (found.fallback && !this.#warned.has(language)) {
      this.#warned.add(language);
      this.onFallback(language, this.dirs.defaultLanguage);
    }
    return { path: found.path, modifiedMs: (await stat(found.path)).mtimeMs };
  }
}

/** The file to play for a prompt, by the lookup order above. */
export async function findPrompt(dirs: PromptDirs, name: string, language: string, domain?: string): Promise<FoundPrompt> {
  const wanted = languageFolders(language);
  const defaults = languageFolders(dirs.defaultLanguage).filter((folder) => !wanted.includes(folder));
  const file = `${name}.wav`;
  const override = (folder: string) =>
    dirs.override === undefined ? [] : [...(domain === undefined ? [] : [join(dirs.override, domain, folder, file)]), join(dirs.override, folder, file)];
  const sems = (folders: string[], neutral: boolean) => (dirs.sems ? semsPromptCandidates(dirs.sems, name, folders, domain, neutral) : []);
  const inLanguage = [...wanted.flatMap(override), ...sems(wanted, true), ...wanted.map((folder) => join(dirs.built, folder, file))];
  for (const path of inLanguage) if (await exists(path)) return { path, fallback: false };
  for (const folder of defaults) {
    for (const path of [...override(folder), ...sems([folder], false), join(dirs.built, folder, file)]) if (await exists(path)) return { path, fallback: true };
  }
  throw new ServiceError('bad-request', `no prompt "${name}" for language ${language} (nor ${dirs.defaultLanguage})`);
}

/** A SEMS voicebox set's pieces for `value`, all from one folder, or undefined when none has them all. */
async function findSemsNumber(dirs: SemsPromptDirs, value: number, order: DigitOrder, languages: readonly string[]): Promise<string[] | undefined> {
  const pieces = semsNumberPieces(value, order);
  if (pieces === undefined) return undefined;
  for (const folder of semsNumberFolders(dirs, languages)) {
    const paths = pieces.map((piece) => join(folder, `${piece}.wav`));
    if ((await Promise.all(paths.map(exists))).every(Boolean)) return paths;
  }
  return undefined;
}

/**
 * The platform prompt pieces that speak `value` (0–9999): the language's own way (its grammar:
 * contracts' grammar/), unless its digit order is configured otherwise; else by the digit order —
 * units after the tens (`right`, English "forty-two") or before them (`left`, German
 * "zweiundvierzig": `num_1_combined` for "ein", then `num_and`).
 */
export function numberPieces(value: number, language: string, order: DigitOrder): string[] {
  if (!Number.isInteger(value) || value < 0 || value > 9999) throw new ServiceError('bad-request', `cannot speak ${value}`);
  const grammar = grammarOf(language);
  return grammar && grammar.digits === order ? grammar.number(value) : byDigitOrder(value, order);
}
