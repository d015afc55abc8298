/**
 * The languages the platform speaks in its own way: one file each (grammar.ts says what it holds).
 * Adding a language is its prompts (a folder, media's README) and a file here, listed below.
 */
import { languageTag, primaryLanguage } from '../languages.js';
import { cldrPlural, type Grammar } from './grammar.js';
import { de } from './de.js';
import { en } from './en.js';
import { es } from './es.js';
import { fr } from './fr.js';
import { it } from './it.js';

export * from './grammar.js';

const GRAMMARS: ReadonlyMap<string, Grammar> = new Map([en, de, fr, es, it].map((grammar) => [grammar.tag, grammar]));

/** The grammar of a language (a tag or a SEMS name); undefined for one the platform has none for. */
export function grammarOf(language: string): Grammar | undefined {
  const primary = primaryLanguage(language);
  return primary === undefined ? undefined : GRAMMARS.get(primary);
}

/** The languages with a grammar of their own. */
export const GRAMMAR_TAGS: readonly string[] = [...GRAMMARS.keys()];

/**
 * The grammar to speak `language` by: its own, else English's shape with the language's own plural
 * rules (CLDR's, which know every language), so an operator's prompt folder in a language without
 * a grammar file still counts with the right noun forms.
 */
export function grammarFor(language: string): Grammar {
  return grammarOf(language) ?? { ...en, tag: primaryLanguage(language) ?? 'en', plural: cldrPlural(languageTag(language) ?? 'en') };
}
