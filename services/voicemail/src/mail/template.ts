/**
 * Mail templates in SEMS's `.template` format, accepted as they are:
 *
 *   subject: Voice message from %sender%
 *   from: voicemail@%domain%
 *   to: %email%
 *   header: X-Content: Voicemail        (optional, may repeat; SEMS's one line holding several
 *                                        headers separated by a literal \n works too)
 *   <empty line>
 *   body text with %variables%; %% is a literal percent sign
 *
 * An HTML body may sit beside it as `<name>.html` (same variables, values HTML-escaped).
 * Every variable a template uses is checked at start-up against the known set, so a typo is a
 * configuration error, not a mail that silently lacks a value (docs/behaviour.md §3 fix).
 *
 * Beyond SEMS: `%if:name%` … `%/if%` keeps what is between only when the variable is not empty
 * (blocks may nest), so a template can show a part — the transcript — only in the mails that have
 * it. A tag alone on its line takes the line with it. Neither tag is a valid variable name, so no
 * SEMS template means anything else by it.
 */

export interface MailTemplate {
  /** The file it came from, for error messages. */
  readonly source: string;
  readonly subject: string;
  readonly from: string;
  readonly to: string;
  /** Raw extra header lines, `Name: value`. */
  readonly headers: readonly string[];
  readonly text: string;
  readonly html?: string;
}

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const HEADER_FIELDS = ['subject', 'from', 'to', 'header'] as const;

export function parseTemplate(source: string, content: string, html?: string): MailTemplate {
  const lines = content.replace(/\r\n?/g, '\n').split('\n');
  const fields: Record<string, string> = {};
  const headers: string[] = [];
  let index = 0;
  for (; index < lines.length; index++) {
    const line = (lines[index] ?? '').trim();
    if (line === '') break;
    const colon = line.indexOf(':');
    const key = colon < 0 ? line : line.slice(0, colon).trim().toLowerCase();
    if (!(HEADER_FIELDS as readonly string[]).includes(key)) {
      throw new TemplateError(`${source}:${index + 1}: unknown line "${line}" (expected subject:, from:, to: or header:, then an empty line)`);
    }
    const value = line.slice(colon + 1).trim();
    if (key === 'header') {
      // SEMS (EmailTemplate.cpp) turns every two-character `\n` of the line into a line break.
      for (const one of value
        .split('\\n')
        .map((h) => h.trim())
        .filter((h) => h !== '')) {
        if (!/^[A-Za-z0-9-]+:\s*\S/.test(one)) throw new TemplateError(`${source}:${index + 1}: header must be "Name: value" (several separated by \\n)`);
        headers.push(one);
      }
    } else {
      fields[key] = value;
    }
  }
  if (index >= lines.length) throw new TemplateError(`${source}: no empty line between the header lines and the body`);
  for (const required of ['subject', 'from', 'to']) {
    if (!fields[required]) throw new TemplateError(`${source}: missing or empty "${required}:" line`);
  }
  const text = lines.slice(index + 1).join('\n');
  if (text.trim() === '') throw new TemplateError(`${source}: the body is empty`);
  return {
    source,
    subject: fields.subject ?? '',
    from: fields.from ?? '',
    to: fields.to ?? '',
    headers,
    text,
    ...(html !== undefined ? { html } : {}),
  };
}

/** Every variable name used anywhere in the template. */
export function variablesOf(template: MailTemplate): Set<string> {
  const names = new Set<string>();
  for (const part of [template.subject, template.from, template.to, template.text, template.html ?? '', ...template.headers]) {
    for (const token of tokenize(part, template.source)) if (token.kind === 'variable' || token.kind === 'if') names.add(token.name);
  }
  return names;
}

/** Throws naming each unknown variable. */
export function checkVariables(template: MailTemplate, known: ReadonlySet<string>): void {
  const unknown = [...variablesOf(template)].filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new TemplateError(
      `${template.source}: unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `%${n}%`).join(', ')} (known: ${[...known].sort().join(', ')})`,
    );
  }
}

export interface RenderedMail {
  subject: string;
  from: string;
  to: string;
  headers: { key: string; value: string }[];
  text: string;
  html?: string;
}

/** Fills in the variables. Header values lose CR/LF, so no value can inject a header. */
export function renderTemplate(template: MailTemplate, variables: Readonly<Record<string, string>>): RenderedMail {
  const valueOf = (name: string) => {
    const value = variables[name];
    if (value === undefined) throw new TemplateError(`${template.source}: no value for %${name}%`);
    return value;
  };
  const fill = (text: string, escape: (value: string) => string) => {
    const out: string[] = [];
    // Whether each open block (and the whole text, first) is shown.
    const shown = [true];
    for (const token of tokenize(text, template.source)) {
      const showing = shown.at(-1) ?? true;
      if (token.kind === 'if') shown.push(showing && valueOf(token.name) !== '');
      else if (token.kind === 'end') shown.pop();
      else if (showing) out.push(token.kind === 'text' ? token.text : escape(valueOf(token.name)));
    }
    return out.join('');
  };
  const headerSafe = (value: string) => value.replace(/[\r\n]+/g, ' ');
  return {
    subject: fill(template.subject, headerSafe),
    from: fill(template.from, headerSafe),
    to: fill(template.to, headerSafe),
    headers: template.headers.map((line) => {
      const rendered = fill(line, headerSafe);
      const colon = rendered.indexOf(':');
      return { key: rendered.slice(0, colon).trim(), value: rendered.slice(colon + 1).trim() };
    }),
    text: fill(template.text, (value) => value),
    ...(template.html !== undefined ? { html: fill(template.html, escapeHtml) } : {}),
  };
}

type Token = { kind: 'text'; text: string } | { kind: 'variable'; name: string } | { kind: 'if'; name: string } | { kind: 'end' };

/** A block tag alone on its line (indentation allowed): the line goes with it. */
const TAG_LINE = /^[ \t]*(%if:[A-Za-z_][A-Za-z0-9_]*%|%\/if%)[ \t]*(?:\r?\n|$)/gm;

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let rest = text.replace(TAG_LINE, '$1');
  let open = 0;
  while (rest.length > 0) {
    const start = rest.indexOf('%');
    if (start < 0) {
      tokens.push({ kind: 'text', text: rest });
      break;
    }
    if (start > 0) tokens.push({ kind: 'text', text: rest.slice(0, start) });
    if (rest[start + 1] === '%') {
      tokens.push({ kind: 'text', text: '%' });
      rest = rest.slice(start + 2);
      continue;
    }
    const end = rest.indexOf('%', start + 1);
    const name = end < 0 ? '' : rest.slice(start + 1, end);
    const condition = /^if:([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
    if (condition) {
      tokens.push({ kind: 'if', name: condition[1] ?? '' });
      open++;
    } else if (name === '/if') {
      if (--open < 0) throw new TemplateError(`${source}: %/if% without its %if:…%`);
      tokens.push({ kind: 'end' });
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      tokens.push({ kind: 'variable', name });
    } else {
      throw new TemplateError(`${source}: "%" must start a %variable% or be written %% (near "${rest.slice(start, start + 20)}")`);
    }
    rest = rest.slice(end + 1);
  }
  if (open > 0) throw new TemplateError(`${source}: %if:…% without its %/if%`);
  return tokens;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
