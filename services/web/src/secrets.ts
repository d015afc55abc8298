/**
 * The service's secrets, from a file (the way Kubernetes and compose mount secrets) or from the
 * environment. Problems are reported like any configuration problem — by variable, exit 78 — but
 * a secret's value is never shown, not even when it is wrong.
 */
import { readFile } from 'node:fs/promises';

/** The shortest secret accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const SECRET_MIN_LENGTH = 32;

export interface SecretSource {
  /** The variable with the value itself, and the one naming a file that holds it. */
  variable: string;
  value: string | undefined;
  fileVariable: string;
  file: string | undefined;
}

/**
 * The lines of a secret (a file may hold several: the first is current, the others still
 * accepted during a rotation), or a problem worded for the operator. Empty and `#` lines are skipped.
 */
export async function readSecret(
  source: SecretSource,
  options: { required: boolean; minLength?: number },
): Promise<{ lines: string[] } | { problem: string } | undefined> {
  const minLength = options.minLength ?? SECRET_MIN_LENGTH;
  if (source.value !== undefined && source.value !== '' && source.file !== undefined) {
    return { problem: `${source.variable} and ${source.fileVariable}: set one of them, not both` };
  }
  let text: string;
  let from: string;
  if (source.file !== undefined) {
    try {
      text = await readFile(source.file, 'utf8');
    } catch (error) {
      return { problem: `${source.fileVariable} ("${source.file}"): cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
    }
    from = `${source.fileVariable} ("${source.file}")`;
  } else if (source.value !== undefined && source.value !== '') {
    text = source.value;
    from = `${source.variable} (value not shown)`;
  } else {
    return options.required ? { problem: `${source.fileVariable} (unset): is required (or ${source.variable})` } : undefined;
  }
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.length === 0) return { problem: `${from}: is empty` };
  if (lines.some((line) => line.length < minLength)) return { problem: `${from}: must be at least ${minLength} characters (value not shown)` };
  return { lines };
}
