// Side by side: the deposit benchmark on another commit and on this checkout, in alternation, so
// that the machine's drift (10 % within an hour here) falls on both alike. One fresh platform per
// run; odd rounds run the base first, even rounds this checkout first. It prints every run, the
// median of each side per process, and each round's difference.
//
//   npm run bench -- compare --base 0d571b0 --rate 40 --calls 1600 --hold 8 --rounds 4
//
// Options: --base REV (a commit, tag or branch; default HEAD~1)  --rounds N (3)  and the deposit
//   benchmark's own (--rate R, one rate; --calls, --hold, --greeting-ms, --silence, --speech, --limit,
//   --warm-up: a base from before that option refuses it).
// The base is checked out into a temporary git worktree beside this one, with this checkout's
// node_modules copied in (workspace links stay relative; a base whose dependencies differ runs on
// these, so compare across a dependency change with care) and built with its own tsc; the worktree
// goes when the comparison ends. Nothing is fetched: REV must be in this clone.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { pct } from './lib/deposits.mjs';

const CHECKOUT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const PASSED = ['rate', 'calls', 'hold', 'greeting-ms', 'silence', 'speech', 'limit', 'warm-up'];
const { values: options } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '40' },
    ...Object.fromEntries(PASSED.filter((o) => o !== 'rate').map((o) => [o, { type: 'string' }])),
  },
});
if (options.rate.includes(',')) {
  console.error('compare: one rate at a time (--rate 40)');
  process.exit(64);
}
const rounds = Number(options.rounds);
const git = (...args) => spawnSync('git', ['-C', CHECKOUT, ...args], { encoding: 'utf8' });
const base = git('rev-parse', '--verify', `${options.base}^{commit}`).stdout.trim();
if (!base) {
  console.error(`compare: ${options.base} is not a commit of this clone`);
  process.exit(64);
}
const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
const here = `${git('rev-parse', '--short', 'HEAD').stdout.trim()}${dirty ? ' with uncommitted changes' : ''}`;
const benchArgs = ['--runs', '1', ...PASSED.flatMap((o) => (options[o] === undefined ? [] : [`--${o}`, options[o]]))];

const work = mkdtempSync(join(tmpdir(), 'sipvm-bench-compare-'));
const baseTree = join(work, 'base');
const removeWorktree = () => {
  git('worktree', 'remove', '--force', baseTree);
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  removeWorktree();
  process.exit(130);
});

try {
  console.log(`base ${options.base} (${base.slice(0, 7)}) against this checkout (${here}), ${rounds} rounds: deposits ${benchArgs.join(' ')}`);
  prepareBase();
  const runs = { base: [], here: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const side of round % 2 === 1 ? ['base', 'here'] : ['here', 'base']) {
      const result = await deposits(side === 'base' ? baseTree : CHECKOUT);
      runs[side].push(result);
      console.log(
        `round ${round} ${side === 'base' ? 'base' : 'here'}: ${result.cpu.toFixed(4)} CPU s/call; ${result.row}; ` +
          Object.entries(result.processes)
            .map(([name, cpu]) => `${name} ${cpu.toFixed(4)}`)
            .join(', '),
      );
    }
  }
  report(runs);
} finally {
  removeWorktree();
}

/** The base commit in a worktree of its own, with this checkout's dependencies, built. */
function prepareBase() {
  const added = git('worktree', 'add', '--detach', baseTree, base);
  if (added.status !== 0) throw new Error(`git worktree add failed: ${added.stderr}`);
  for (const modules of nodeModulesOf(CHECKOUT)) {
    const target = join(baseTree, relative(CHECKOUT, modules));
    if (existsSync(dirname(target))) cpSync(modules, target, { recursive: true, verbatimSymlinks: true });
  }
  const built = spawnSync(process.execPath, [join(baseTree, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: baseTree, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`the base does not build: ${built.stdout}${built.stderr}`);
}

/** The node_modules folders of the checkout: the root's and each workspace's own. */
function nodeModulesOf(root, depth = 0) {
  const found = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(root, entry.name);
    if (entry.name === 'node_modules') found.push(path);
    else if (depth < 2) found.push(...nodeModulesOf(path, depth + 1));
  }
  return found;
}

/** One run of the deposit benchmark of `tree`; its figures, read from what it prints. */
async function deposits(tree) {
  const output = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(tree, 'bench', 'deposits.bench.mjs'), ...benchArgs], { cwd: tree, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`the deposit benchmark of ${tree} failed (exit ${code}):\n${text}`))));
  });
  const row = output.split('\n').find((line) => line.startsWith(`| ${options.rate} |`));
  if (!row) throw new Error(`no result row in the deposit benchmark's output:\n${output}`);
  const cells = row.split('|').map((c) => c.trim());
  // Every process the benchmark lists by a one-word name (not its total, sipp or npm start's log relay).
  const processes = {};
  for (const line of output.split('\n')) {
    const m = /^([a-z][\w-]*)\s{2,}(\d+\.\d+)\s/.exec(line);
    if (m) processes[m[1]] = Number(m[2]);
  }
  // Why answered calls left no message, as the deposit benchmark counts them ("  not stored: 3 × …").
  const notStored = output
    .split('\n')
    .filter((line) => line.startsWith('  not stored: '))
    .map((line) => line.slice('  not stored: '.length));
  return {
    cpu: Number(cells.at(-2)),
    // answered, refused, lost and the INVITE→200 p99: what must not get worse while CPU does not.
    row: `answered ${cells[3]}, refused ${cells[4]}, lost ${cells[7]}${notStored.length ? ` (${notStored.join('; ')})` : ''}, INVITE→200 ${cells[8]}`,
    processes,
  };
}

function report(runs) {
  // The deposit benchmark's own median (the lower of the middle two for an even count).
  const median = (values) => pct(values, 50);
  const names = ['platform', ...Object.keys(runs.here[0].processes)];
  const of = (run, name) => (name === 'platform' ? run.cpu : (run.processes[name] ?? 0));
  console.log('\nMedians, CPU s/call (base → this checkout):\n');
  console.log('| process | base | this checkout | change |');
  console.log('|---|---|---|---|');
  for (const name of names) {
    const [b, h] = [median(runs.base.map((r) => of(r, name))), median(runs.here.map((r) => of(r, name)))];
    console.log(`| ${name} | ${b.toFixed(4)} | ${h.toFixed(4)} | ${h - b >= 0 ? '+' : ''}${(h - b).toFixed(4)} (${(((h - b) / b) * 100).toFixed(1)} %) |`);
  }
  const differences = runs.here.map((r, i) => r.cpu - runs.base[i].cpu);
  console.log(
    `\nEach round, this checkout minus the base: ${differences.map((d) => `${d >= 0 ? '+' : ''}${d.toFixed(4)}`).join(', ')}` +
      ` — a change smaller than these spread is not one this machine can show.`,
  );
}
