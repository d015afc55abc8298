#!/usr/bin/env node
// Runs every compiled test file (`dist-test/**/*.test.js` of the workspaces that ship code — their
// `dist/` holds no test — and `dist/**/*.test.js` of the test workspaces), and the plain-JS
// `*.test.mjs` files, with node's test runner.
// Arguments narrow the run to files whose path contains one of them: `npm test -- storage`.
// Node 20's runner takes no globs, hence this small finder.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if ((entry.name.endsWith('.test.js') && /\/dist(-test)?\//.test(path)) || entry.name.endsWith('.test.mjs')) yield path;
  }
}

const files = [...walk(root)]
  .map((path) => relative(root, path))
  .filter((path) => filters.length === 0 || filters.some((f) => path.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files found${filters.length ? ` matching ${filters.join(', ')}` : ''}; did the build run?`);
  process.exit(1);
}
console.log(`running ${files.length} test files`);
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=600000', ...passThrough, ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
