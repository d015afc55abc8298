#!/usr/bin/env node
// Runs the benchmarks in bench/ (`*.bench.mjs`), or those whose name contains an argument:
// `npm run bench -- storage`. Each prints its own figures. Arguments from the first `--option` on
// are passed to the benchmarks: `npm run bench -- deposits --rate 40 --calls 1600`.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = new URL('../bench/', import.meta.url).pathname;
const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith('--'));
const filters = firstOption === -1 ? args : args.slice(0, firstOption);
const passed = firstOption === -1 ? [] : args.slice(firstOption);
const benches = readdirSync(dir)
  .filter((name) => name.endsWith('.bench.mjs'))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();
if (benches.length === 0) {
  console.error('no benchmark matches');
  process.exit(1);
}
let failed = 0;
for (const name of benches) {
  console.log(`\n# ${name}`);
  const result = spawnSync(process.execPath, [join(dir, name), ...passed], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
