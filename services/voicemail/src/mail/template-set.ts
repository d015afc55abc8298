/**
 * All mail templates, loaded and checked once at start-up, and the choice of one per mail:
 * did + language → did → default + language → default (docs/behaviour.md §3), as SEMS chooses
 * (AnswerMachine.cpp). A language is tried under each of its folder names (contracts'
 * languages.ts): `german` tries `<did>_german`, then `<did>_de`; `de-AT` tries `de-AT`, `de` and
 * `german`. The templates shipped in services/voicemail/templates are always there; an
 * operator's folder (MAIL_TEMPLATE_DIR, SEMS's email_template_path as it is) adds to them and
 * overrides them by name.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { languageFolders } from '@sipvm/contracts';
import { packageRoot, utf8OrLatin1 } from '@sipvm/service';
import { checkVariables, parseTemplate, TemplateError, type MailTemplate } from './template.js';

export const BUILTIN_TEMPLATE_DIR = `${join(packageRoot(import.meta.url), 'templates')}/`;

export class TemplateSet {
  readonly #templates: ReadonlyMap<string, MailTemplate>;

  private constructor(templates: Map<string, MailTemplate>) {
    this.#templates = templates;
  }

  /** Loads every `*.template` (and its `.html` sibling) from the folders, later folders winning. */
  static async load(dirs: readonly string[], knownVariables: ReadonlySet<string>): Promise<TemplateSet> {
    const templates = new Map<string, MailTemplate>();
    const problems: string[] = [];
    for (const dir of dirs) {
      let names: string[];
      try {
        names = (await readdir(dir)).filter((name) => name.endsWith('.template')).sort();
      } catch (error) {
        problems.push(`${dir}: cannot read the template folder (${(error as Error).message})`);
        continue;
      }
      for (const file of names) {
        const name = file.slice(0, -'.template'.length);
        const path = join(dir, file);
        try {
          const html = await readFile(join(dir, `${name}.html`)).then(utf8OrLatin1, () => undefined);
          const template = parseTemplate(path, utf8OrLatin1(await readFile(path)), html);
          checkVariables(template, knownVariables);
          templates.set(name, template);
        } catch (error) {
          problems.push(error instanceof TemplateError ? error.message : `${path}: ${(error as Error).message}`);
        }
      }
    }
    for (const name of ['default', ...NOTICE_TEMPLATES]) if (!templates.has(name)) problems.push(`no ${name}.template in ${dirs.join(' or ')}`);
    if (problems.length > 0) throw new TemplateError(problems.join('\n'));
    return new TemplateSet(templates);
  }

  /**
   * The template for a domain id and language, by the fallback order above; for a notice
   * (`mailbox_full`, …) the same order among that notice's templates: `<did>_<notice>_<lng>`,
   * `<did>_<notice>`, `<notice>_<lng>`, `<notice>`.
   */
  select(did: string, language: string | undefined, notice?: string): MailTemplate {
    for (const name of notice === undefined ? candidates(did, language) : noticeCandidates(did, language, notice)) {
      const template = this.#templates.get(name);
      if (template) return template;
    }
    // load() guarantees a default
    throw new TemplateError('no default template');
  }

  get names(): string[] {
    return [...this.#templates.keys()].sort();
  }
}

/** The notices' templates, by notice kind (contracts' MailNoticeSchema); shipped with the service. */
export const NOTICE_TEMPLATES = ['mailbox_almost_full', 'mailbox_full', 'messages_expiring'] as const;
export const noticeTemplate = (kind: string): string => kind.replaceAll('-', '_');

function noticeCandidates(did: string, language: string | undefined, notice: string): string[] {
  const languages = language === undefined ? [] : languageFolders(language);
  return [...languages.map((l) => `${did}_${notice}_${l}`), `${did}_${notice}`, ...languages.map((l) => `${notice}_${l}`), notice];
}

function candidates(did: string, language: string | undefined): string[] {
  const languages = language === undefined ? [] : languageFolders(language);
  return [...languages.map((l) => `${did}_${l}`), did, ...languages.map((l) => `default_${l}`), 'default'];
}
