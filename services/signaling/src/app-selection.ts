/**
 * Which application a call is for (docs/behaviour.md §1): P-App-Name, else the configured fallbacks in their
 * order — the R-URI parameter `app=`, the R-URI user (`sip:voicebox@host`), and the mapping
 * file of `regex => application` lines matched against the whole R-URI (first match wins,
 * `\1`…`\9` substitute capture groups). Nothing found is an error with a SIP reason, never a hang.
 */
import { readFile } from 'node:fs/promises';
import { APPLICATIONS, type Application } from '@sipvm/contracts';

export const APP_FALLBACKS = ['ruri-param', 'ruri-user', 'mapping'] as const;
export type AppFallback = (typeof APP_FALLBACKS)[number];

export interface MappingRule {
  readonly pattern: RegExp;
  readonly target: string;
  readonly line: number;
}

export class MappingFileError extends Error {
  override readonly name = 'MappingFileError';
}

/** `regex => application` per line; blank lines and lines starting with # are skipped. */
export function parseMappingFile(text: string, source = 'mapping file'): MappingRule[] {
  const rules: MappingRule[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const arrow = line.lastIndexOf('=>');
    if (arrow < 0) throw new MappingFileError(`${source} line ${index + 1}: expected "regex => application"`);
    const regex = line.slice(0, arrow).trim();
    const target = line.slice(arrow + 2).trim();
    if (regex === '' || target === '') throw new MappingFileError(`${source} line ${index + 1}: expected "regex => application"`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(regex);
    } catch (error) {
      throw new MappingFileError(`${source} line ${index + 1}: bad regex: ${(error as Error).message}`);
    }
    if (!/\\[1-9]/.test(target) && !isApplication(target)) {
      throw new MappingFileError(`${source} line ${index + 1}: "${target}" is not an application (${APPLICATIONS.join(', ')})`);
    }
    rules.push({ pattern, target, line: index + 1 });
  });
  return rules;
}

export async function loadMappingFile(path: string): Promise<MappingRule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MappingFileError(`cannot read mapping file ${path}: ${(error as Error).message}`);
  }
  return parseMappingFile(text, path);
}

export function isApplication(name: string): name is Application {
  return (APPLICATIONS as readonly string[]).includes(name);
}

export interface SelectionInput {
  /** P-App-Name, when present and trusted. */
  appName: string | undefined;
  /** The whole Request-URI as received. */
  ruri: string;
  ruriUser: string | undefined;
  /** The R-URI's `app` parameter, if any. */
  ruriAppParam: string | undefined;
}

export type Selection = { ok: true; app: Application; by: 'header' | AppFallback } | { ok: false; status: number; reason: string };

export function selectApplication(input: SelectionInput, order: readonly AppFallback[], mapping: readonly MappingRule[]): Selection {
  if (input.appName !== undefined) {
    const name = input.appName.trim().toLowerCase();
    return isApplication(name) ? { ok: true, app: name, by: 'header' } : unknown(input.appName, 'P-App-Name');
  }
  for (const fallback of order) {
    switch (fallback) {
      case 'ruri-param': {
        if (input.ruriAppParam === undefined) break;
        const name = input.ruriAppParam.toLowerCase();
        return isApplication(name) ? { ok: true, app: name, by: fallback } : unknown(input.ruriAppParam, 'R-URI app=');
      }
      case 'ruri-user': {
        const name = input.ruriUser?.toLowerCase();
        if (name !== undefined && isApplication(name)) return { ok: true, app: name, by: fallback };
        break;
      }
      case 'mapping': {
        for (const rule of mapping) {
          const match = rule.pattern.exec(input.ruri);
          if (!match) continue;
          const name = rule.target.replace(/\\([1-9])/g, (_, n: string) => match[Number(n)] ?? '').toLowerCase();
          return isApplication(name) ? { ok: true, app: name, by: fallback } : unknown(name, `mapping line ${rule.line}`);
        }
        break;
      }
    }
  }
  return { ok: false, status: 404, reason: 'No Application For This Request-URI' };
}

/** What an application's name may look like; anything else is not echoed back (it is the sender's text, not a name). */
const NAME_LIKE = /^[A-Za-z0-9._+-]{1,32}$/;

function unknown(name: string, where: string): Selection {
  // A header value that is no name at all (a mutated request can fold other headers into it) is
  // not repeated into the reply and the log.
  const said = NAME_LIKE.test(name) ? `"${name}"` : '(not a name)';
  return { ok: false, status: 404, reason: `Unknown Application ${said} (${where})` };
}
