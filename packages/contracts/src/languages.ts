/**
 * Languages, in the one place that knows them (docs/migrating-from-sems.md): what P-App-Param `lng`
 * may say, which tag it stands for, which folders hold its prompts and templates, and in which
 * order its numbers put units and tens.
 *
 * SEMS passes `lng` through untouched and uses it as a folder name (`<prompts>/<lng>/`,
 * `<domain>_<lng>.template`), so a SEMS installation has languages called `english`, `german`, or
 * anything its operator chose. The platform's own prompts and templates are filed by tag (`en`,
 * `de`). A value is therefore looked up under its own name first (what SEMS did), then under its
 * tag, its primary tag, and the SEMS name of that tag: `german` finds `german/` and `de/`, `de-AT`
 * finds `de-AT/`, `de/` and `german/`. A value that names no known language (`klingon`) is still
 * a folder name, as in SEMS; it just has no tag.
 */

import type { DigitOrder } from './grammar/grammar.js';

/** Language names SEMS installations use for `lng` (English and native, in ASCII), by their tag. */
const NAMES_BY_TAG: Readonly<Record<string, readonly string[]>> = {
  en: ['english'],
  de: ['german', 'deutsch'],
  fr: ['french', 'francais'],
  es: ['spanish', 'espanol', 'castellano'],
  it: ['italian', 'italiano'],
  pt: ['portuguese', 'portugues'],
  nl: ['dutch', 'nederlands'],
  da: ['danish', 'dansk'],
  sv: ['swedish', 'svenska'],
  nb: ['norwegian', 'norsk'],
  fi: ['finnish', 'suomi'],
  pl: ['polish', 'polski'],
  cs: ['czech', 'cesky', 'cestina'],
  sk: ['slovak', 'slovensky'],
  sl: ['slovenian', 'slovene'],
  hr: ['croatian', 'hrvatski'],
  sr: ['serbian'],
  bs: ['bosnian'],
  hu: ['hungarian', 'magyar'],
  ro: ['romanian', 'romana'],
  bg: ['bulgarian'],
  el: ['greek'],
  tr: ['turkish', 'turkce'],
  ru: ['russian'],
  uk: ['ukrainian'],
  et: ['estonian'],
  lv: ['latvian'],
  lt: ['lithuanian'],
  is: ['icelandic'],
  ga: ['irish'],
  ca: ['catalan', 'catala'],
  eu: ['basque', 'euskara'],
  gl: ['galician', 'galego'],
  he: ['hebrew'],
  ar: ['arabic'],
  fa: ['persian', 'farsi'],
  hi: ['hindi'],
  zh: ['chinese', 'mandarin'],
  ja: ['japanese'],
  ko: ['korean'],
  vi: ['vietnamese'],
  th: ['thai'],
  id: ['indonesian'],
  ms: ['malay'],
};

const TAG_BY_NAME: ReadonlyMap<string, string> = new Map(Object.entries(NAMES_BY_TAG).flatMap(([tag, names]) => names.map((name) => [name, tag] as const)));

/** A BCP 47-like tag: a 2–3 letter primary subtag, then subtags (`de-AT`, `pt_BR`, `zh-Hant-TW`). */
const TAG_PATTERN = /^([A-Za-z]{2,3})((?:[-_][A-Za-z0-9]{2,8})*)$/;

/** The tag `language` stands for (`english` → `en`, `pt_BR` → `pt-BR`), or undefined for a name no one knows. */
export function languageTag(language: string): string | undefined {
  const byName = TAG_BY_NAME.get(language.toLowerCase());
  if (byName !== undefined) return byName;
  const match = TAG_PATTERN.exec(language);
  if (!match) return undefined;
  return `${(match[1] ?? '').toLowerCase()}${(match[2] ?? '').replace(/_/g, '-')}`;
}

/** The primary subtag (`de` for `german`, `de-AT` and `de_CH`), or undefined. */
export function primaryLanguage(language: string): string | undefined {
  return languageTag(language)?.split('-')[0];
}

/**
 * The folder names to look for `language` in, best first: the value itself (as SEMS did), its
 * tag, its primary tag, and the SEMS name of the primary tag.
 */
export function languageFolders(language: string): string[] {
  const tag = languageTag(language);
  const primary = tag?.split('-')[0];
  const name = primary === undefined ? undefined : NAMES_BY_TAG[primary]?.[0];
  return [...new Set([language, tag, primary, name].filter((folder): folder is string => folder !== undefined))];
}

/** Languages whose units come first, unless configured otherwise. */
const UNITS_FIRST: ReadonlySet<string> = new Set(['de', 'nl', 'da']);

/**
 * The digit order of `language`: a configured one for its name, tag or primary tag (in that
 * order), else the language's own (units first in German, Dutch and Danish), else `right`.
 */
export function digitOrder(language: string, configured: ReadonlyMap<string, DigitOrder> = new Map()): DigitOrder {
  const tag = languageTag(language);
  for (const key of [language.toLowerCase(), tag?.toLowerCase(), tag?.split('-')[0]]) {
    const order = key === undefined ? undefined : configured.get(key);
    if (order !== undefined) return order;
  }
  return UNITS_FIRST.has(primaryLanguage(language) ?? '') ? 'left' : 'right';
}

/**
 * A digit-order setting: `de=left,nl=left`, or SEMS voicebox.conf's `languages=` value as it is
 * (`english(digits=right);german(digits=left)`; an entry without `digits=` sets nothing). Names
 * are stored by their tag when they have one, so `german=left` also holds for `de` and `de-AT`.
 */
export function parseDigitOrders(text: string): { orders: Map<string, DigitOrder>; problems: string[] } {
  const orders = new Map<string, DigitOrder>();
  const problems: string[] = [];
  for (const entry of text
    .split(/[;,]/)
    .map((e) => e.trim())
    .filter((e) => e.length > 0)) {
    const match = /^([A-Za-z0-9._-]+)\s*(?:=\s*(\w+)|\(\s*(?:digits\s*=\s*(\w+))?\s*\))?$/.exec(entry);
    const order = (match?.[2] ?? match?.[3])?.toLowerCase();
    if (!match || (order !== undefined && order !== 'left' && order !== 'right')) {
      problems.push(`"${entry}" is not <language>=left|right or <language>(digits=left|right)`);
      continue;
    }
    const name = match[1] ?? '';
    if (order !== undefined) orders.set((languageTag(name) ?? name).toLowerCase(), order);
  }
  return { orders, problems };
}
