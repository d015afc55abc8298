// The flow pages (docs/flows/*.md) name the file and function of every step of a flow that crosses
// services. This keeps them true as the code moves: every file they name exists, every function or
// method named after it (`path/file.ts:name`, `path/file.ts:Class.method`, `Class.#method` for a
// private one) is defined there, every NATS subject is one subjects.ts declares, every KV bucket one
// buckets.ts declares, every upper-case name (stream, variable, constant) is in the code or the
// deployment files, every relative link leads to a file, the sequence diagrams name only declared
// participants, and every page is linked from the headers of the code it describes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const flowsDir = join(root, 'docs', 'flows');
const pages = readdirSync(flowsDir)
  .filter((name) => name.endsWith('.md'))
  .sort();
const sequences = pages.filter((name) => name !== 'README.md');
const text = (path) => readFileSync(join(root, path), 'utf8');
const page = (name) => text(join('docs', 'flows', name));

/** Text files of the repository's own code and deployment (no dependencies, no build output). */
function* walk(dir, extensions) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.') || /^dist(-test)?$/.test(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path, extensions);
    else if (extensions.some((extension) => entry.name.endsWith(extension))) yield path;
  }
}
const codeFiles = ['services', 'packages', 'deploy', 'test', 'scripts', 'bench'].flatMap((dir) => [
  ...walk(join(root, dir), ['.ts', '.mjs', '.js', '.sh', '.yaml', '.yml', '.cfg', '.env', '.conf']),
]);
const everything = codeFiles.map((path) => readFileSync(path, 'utf8')).join('\n');

/** The contents of every code span of a page (`…`), outside fenced blocks. */
function codeSpans(markdown) {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1].trim());
}

const FILE_REFERENCE = /^([\w.[\]-]+(?:\/[\w.[\]-]+)*\.(?:ts|mjs|js|sh|ya?ml|cfg|conf|env|json|md|list))(?::(.+))?$/;
const MODIFIERS = '(?:(?:export|default|public|private|protected|static|readonly|async|override|get|set|declare|abstract)\\s+)*';
const escape = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `source` defines `name`: a declaration, a method, or a property or key holding a function. */
function defines(source, name, extension) {
  if (!/^(ts|mjs|js)$/.test(extension)) {
    // Shell functions, YAML keys, Kamailio routes: the name as written.
    return source.includes(name);
  }
  const n = escape(name);
  if (new RegExp(`(?:^|[^\\w$])(?:function\\*?|class|interface|type|enum|const|let|var)\\s+${n}(?![\\w$])`, 'm').test(source)) return true;
  const member = new RegExp(`^\\s*(${MODIFIERS})${n}(?![\\w$])\\s*(.*)$`);
  for (const line of source.split('\n')) {
    const match = member.exec(line);
    if (!match) continue;
    const [, modifiers, rest] = match;
    // A method: its signature on one line ending in `{`, or one spread over lines (not a call statement).
    if (/^(?:<[^>]*>)?\s*\(/.test(rest) && (/\{\s*$/.test(rest) || (/\(\s*$/.test(rest) && (modifiers !== '' || name.startsWith('#'))))) return true;
    // A property or an object key holding a function.
    if (/^(?::[^=]*)?=\s*(?:async\s*)?(?:\(|function\b|[A-Za-z_$][\w$]*\s*=>)/.test(rest)) return true;
    if (/^:\s*(?:async\s*)?(?:\(|function\b|[A-Za-z_$][\w$]*\s*=>)/.test(rest)) return true;
  }
  return false;
}

/** Why a `path:name` reference is wrong, or undefined when it holds. */
function problemOf(reference) {
  // A NATS subject (`vm.storage.mailbox.list`) may end like a file name; subjects are checked below.
  if (reference.startsWith('vm.')) return undefined;
  const match = FILE_REFERENCE.exec(reference);
  if (!match) return undefined;
  const [, path, name] = match;
  if (!existsSync(join(root, path))) return `${reference}: ${path} does not exist${path.includes('/') ? '' : ' (name a file by its path in the repository)'}`;
  if (name === undefined) return undefined;
  const extension = path.split('.').pop();
  const source = text(path);
  const parts = /^(ts|mjs|js)$/.test(extension) ? name.split(/\.(?=#?[\w$]+$)/) : [name];
  if (parts.length === 2 && !defines(source, parts[0], extension)) return `${reference}: ${path} defines no ${parts[0]}`;
  const member = parts.at(-1);
  return defines(source, member, extension) ? undefined : `${reference}: ${path} defines no ${member}`;
}

/** NATS subjects as subjects.ts declares them, as patterns: a `${…}` part is any one token. */
function declaredSubjects() {
  const source = text('packages/contracts/src/subjects.ts');
  const literals = [...source.matchAll(/['`](vm\.[^'`]+)['`]/g)].map((match) => match[1]);
  return literals.map(
    (subject) =>
      new RegExp(
        `^${subject
          .split(/\$\{[^}]+\}/)
          .map(escape)
          .join('[^.\\s]+')}$`,
      ),
  );
}

describe('docs/flows', () => {
  it('has an index listing every page, and every page has a sequence diagram and its steps', () => {
    const index = page('README.md');
    for (const name of sequences) {
      assert.match(index, new RegExp(`\\]\\(${escape(name)}\\)`), `docs/flows/README.md does not link ${name}`);
      const markdown = page(name);
      assert.match(markdown, /^```mermaid\nsequenceDiagram$/m, `${name} has no mermaid sequenceDiagram`);
      assert.ok(
        codeSpans(markdown).some((span) => FILE_REFERENCE.exec(span)?.[2] !== undefined),
        `${name} names no file:function`,
      );
    }
  });

  for (const name of pages) {
    it(`${name}: every file and function it names exists`, () => {
      const problems = codeSpans(page(name)).map(problemOf).filter(Boolean);
      assert.deepEqual(problems, []);
    });

    it(`${name}: every subject, bucket and upper-case name it uses is declared`, () => {
      const subjects = declaredSubjects();
      const buckets = text('packages/contracts/src/buckets.ts');
      const problems = [];
      for (const span of codeSpans(page(name))) {
        if (/^vm\.[\w.<>{}*-]+$/.test(span)) {
          const subject = span.replace(/<[^>]+>|\{[^}]+\}/g, 'x');
          if (!subjects.some((pattern) => pattern.test(subject))) problems.push(`subject ${span} is not in packages/contracts/src/subjects.ts`);
        } else if (/^vm[-_][a-z_-]+$/.test(span)) {
          if (!buckets.includes(`'${span}'`)) problems.push(`KV bucket ${span} is not in packages/contracts/src/buckets.ts`);
        } else if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(span)) {
          if (!new RegExp(`(?:^|[^\\w])${span}(?![\\w])`).test(everything)) problems.push(`${span} appears nowhere in the code or the deployment files`);
        }
      }
      assert.deepEqual(problems, []);
    });

    it(`${name}: every relative link leads to a file`, () => {
      const markdown = page(name);
      const problems = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((match) => match[1].split('#')[0])
        .filter((target) => target !== '' && !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(resolve(flowsDir, target)))
        .map((target) => `${target} does not exist`);
      assert.deepEqual(problems, []);
    });
  }

  for (const name of sequences) {
    it(`${name}: the sequence diagram names only declared participants, and nothing mermaid misreads`, () => {
      const problems = [];
      for (const [, diagram] of page(name).matchAll(/^```mermaid\n([\s\S]*?)^```/gm)) {
        const lines = diagram.split('\n');
        const declared = new Set(lines.map((line) => /^\s*(?:participant|actor)\s+(\w+)/.exec(line)?.[1]).filter(Boolean));
        for (const line of lines) {
          // `;` ends a statement and `#` starts an entity code (`#35;` is a #) in mermaid's text.
          if (/;/.test(line.replace(/#\d+;/g, ''))) problems.push(`";" in: ${line.trim()}`);
          if (/#(?!\d+;)/.test(line)) problems.push(`"#" in: ${line.trim()} (write #35;)`);
          const message = /^\s*(\w+)\s*(?:<<)?--?(?:>>|>|x|\))\s*[+-]?(\w+)\s*:/.exec(line);
          const note = /^\s*Note\s+(?:over|left of|right of)\s+(\w+)(?:\s*,\s*(\w+))?\s*:/.exec(line);
          for (const actor of [message?.[1], message?.[2], note?.[1], note?.[2]].filter(Boolean)) {
            if (!declared.has(actor)) problems.push(`undeclared participant ${actor} in: ${line.trim()}`);
          }
        }
      }
      assert.deepEqual(problems, []);
    });

    it(`${name}: is linked from the header of the code it describes`, () => {
      const linking = codeFiles.filter((path) => readFileSync(path, 'utf8').includes(`docs/flows/${name}`));
      assert.ok(linking.length > 0, `no code file links docs/flows/${name}`);
    });
  }

  it('every docs/flows page a code file links exists', () => {
    const problems = [];
    for (const path of codeFiles) {
      for (const [link] of readFileSync(path, 'utf8').matchAll(/docs\/flows\/[\w.-]+\.md/g)) {
        if (!existsSync(join(root, link))) problems.push(`${relative(root, path)} links ${link}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
