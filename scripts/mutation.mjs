#!/usr/bin/env node
// Mutation testing of the code whose faults cost calls or jobs: the call runtime, admission and the
// durable worker (docs/testing.md). Each mutant is one small change to a TypeScript source — an
// operator swapped, a condition made always true or false, a statement or block removed, a literal
// emptied — made by walking the source's syntax tree, so the list is the same on every run and
// chosen by nobody. The mutant is compiled alone (`transpileModule`) into a scratch copy of the
// package's compiled tests (`dist-test/.mutants-<pid>/`, never the build output itself), and the module's
// unit tests run against it: a failing test (or one that hangs) kills the mutant, a passing run
// lets it survive. Log calls are not mutated (what a log line says is not behaviour the tests
// pin), nor are types, imports and number literals.
//
//   npm run mutation                      every module (builds first)
//   npm run mutation -- admission         the modules whose name contains an argument
//   node scripts/mutation.mjs --list      the mutants, without running anything
//   node scripts/mutation.mjs durable-worker --only 12,30   some mutants by their number
//
// Survivors judged equivalent (no test could tell them apart from the code) are listed below with
// the reason; the score is printed both over all mutants and over the others.
import ts from 'typescript';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** The modules under test: their sources (in their package) and the unit tests that pin them. */
const MODULES = [
  {
    name: 'call-runtime',
    pkg: 'packages/service',
    sources: ['src/calls/runtime.ts', 'src/calls/call.ts', 'src/calls/actions/*.ts'],
    tests: ['src/calls/runtime.test.ts'],
  },
  { name: 'admission', pkg: 'services/signaling', sources: ['src/admission.ts'], tests: ['src/admission.test.ts'] },
  { name: 'durable-worker', pkg: 'packages/service', sources: ['src/durable-worker.ts'], tests: ['src/durable-worker.test.ts'] },
];

/**
 * Surviving mutants that no test can kill, with why: matched on the file, the source line (trimmed)
 * and the change, so that they stay matched while the lines around them move.
 */
const EQUIVALENT = [];

const args = process.argv.slice(2);
const listOnly = args.includes('--list');
const onlyArg = args.indexOf('--only');
const only = onlyArg === -1 ? undefined : new Set(args[onlyArg + 1].split(',').map(Number));
const filters = args.filter((a, i) => !a.startsWith('--') && (onlyArg === -1 || i !== onlyArg + 1));
const modules = MODULES.filter((m) => filters.length === 0 || filters.some((f) => m.name.includes(f)));
if (modules.length === 0) {
  console.error(`no module matches ${filters.join(', ')}; modules: ${MODULES.map((m) => m.name).join(', ')}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Mutants

const LOG_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'child']);

/** A call that only logs (`log.warn(…)`, `callLogger(…).child(…)`): what it says is not behaviour. */
function isLogCall(node) {
  if (!ts.isCallExpression(node)) return false;
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return callee.text === 'callLogger';
  return ts.isPropertyAccessExpression(callee) && LOG_METHODS.has(callee.name.text) && /log/i.test(callee.expression.getText());
}

const BINARY = {
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: ['!=='],
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: ['==='],
  [ts.SyntaxKind.EqualsEqualsToken]: ['!='],
  [ts.SyntaxKind.ExclamationEqualsToken]: ['=='],
  [ts.SyntaxKind.LessThanToken]: ['<=', '>='],
  [ts.SyntaxKind.LessThanEqualsToken]: ['<', '>'],
  [ts.SyntaxKind.GreaterThanToken]: ['>=', '<='],
  [ts.SyntaxKind.GreaterThanEqualsToken]: ['>', '<'],
  [ts.SyntaxKind.AmpersandAmpersandToken]: ['||'],
  [ts.SyntaxKind.BarBarToken]: ['&&'],
  [ts.SyntaxKind.QuestionQuestionToken]: ['&&'],
  [ts.SyntaxKind.PlusToken]: ['-'],
  [ts.SyntaxKind.MinusToken]: ['+'],
  [ts.SyntaxKind.AsteriskToken]: ['/'],
  [ts.SyntaxKind.SlashToken]: ['*'],
  [ts.SyntaxKind.PercentToken]: ['*'],
  [ts.SyntaxKind.PlusEqualsToken]: ['-='],
  [ts.SyntaxKind.MinusEqualsToken]: ['+='],
};

/** Every mutant of one source file: `{ operator, start, end, replacement }` on its text. */
function mutantsOf(fileName, text) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found = [];
  const add = (operator, node, replacement, start = node.getStart(source), end = node.getEnd()) => {
    if (text.slice(start, end) !== replacement) found.push({ operator, start, end, replacement });
  };
  const visit = (node) => {
    if (
      ts.isImportDeclaration(node) ||
      (ts.isExportDeclaration(node) && node.moduleSpecifier) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) ||
      ts.isTypeNode(node) ||
      isLogCall(node) ||
      (ts.isExpressionStatement(node) && isLogCall(node.expression))
    ) {
      return;
    }
    if (ts.isBinaryExpression(node)) {
      for (const op of BINARY[node.operatorToken.kind] ?? []) add('operator', node.operatorToken, op);
    } else if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.ExclamationToken) {
      add('negation removed', node, node.operand.getText(source));
    } else if (
      (ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) &&
      [ts.SyntaxKind.PlusPlusToken, ts.SyntaxKind.MinusMinusToken].includes(node.operator)
    ) {
      const swapped = node.operator === ts.SyntaxKind.PlusPlusToken ? '--' : '++';
      const operand = node.operand.getText(source);
      add('update', node, ts.isPrefixUnaryExpression(node) ? swapped + operand : operand + swapped);
    } else if (node.kind === ts.SyntaxKind.TrueKeyword || node.kind === ts.SyntaxKind.FalseKeyword) {
      add('boolean', node, node.kind === ts.SyntaxKind.TrueKeyword ? 'false' : 'true');
    } else if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && !isPropertyName(node)) {
      add('string', node, node.text === '' ? "'mutated'" : "''");
    } else if (ts.isTemplateExpression(node)) {
      add('string', node, '``');
    } else if (ts.isArrayLiteralExpression(node) && node.elements.length > 0) {
      add('array emptied', node, '[]');
    } else if (ts.isObjectLiteralExpression(node) && node.properties.length > 0) {
      add('object emptied', node, '{}');
    } else if (ts.isBlock(node) && node.statements.length > 0) {
      add('block emptied', node, '{}');
    } else if (ts.isExpressionStatement(node) && !(ts.isBlock(node.parent) && node.parent.statements.length === 1) && !ts.isSourceFile(node.parent)) {
      add('statement removed', node, ';');
    }
    if (ts.isArrowFunction(node) && !ts.isBlock(node.body) && node.body.getText(source) !== 'undefined') {
      add('arrow returns undefined', node.body, 'undefined', node.body.getStart(source), node.body.getEnd());
    }
    if (ts.isIfStatement(node) || ts.isConditionalExpression(node)) {
      const condition = ts.isIfStatement(node) ? node.expression : node.condition;
      add('condition', condition, 'true');
      add('condition', condition, 'false');
    } else if (
      (ts.isWhileStatement(node) || ts.isDoStatement(node) || ts.isForStatement(node)) &&
      (ts.isForStatement(node) ? node.condition : node.expression)
    ) {
      add('condition', ts.isForStatement(node) ? node.condition : node.expression, 'false');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found
    .sort((a, b) => a.start - b.start || a.end - b.end)
    .map((m) => {
      const { line, character } = source.getLineAndCharacterOfPosition(m.start);
      const lineText = text.split('\n')[line].trim();
      return {
        ...m,
        line: line + 1,
        column: character + 1,
        lineText,
        original: text.slice(m.start, m.end),
        mutated: text.slice(0, m.start) + m.replacement + text.slice(m.end),
      };
    });
}

/** A string that names a property (`{ 'a.b': 1 }`) or a module: not a value the code works with. */
function isPropertyName(node) {
  const parent = node.parent;
  return (ts.isPropertyAssignment(parent) && parent.name === node) || ts.isExternalModuleReference(parent) || ts.isLiteralTypeNode(parent);
}

/** One source as the build would emit it (ES2022 modules, like tsconfig.base.json). */
function compile(text, fileName) {
  const out = ts.transpileModule(text, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: false, useDefineForClassFields: true },
  });
  if (out.diagnostics?.length) throw new Error(`${fileName}: ${ts.flattenDiagnosticMessageText(out.diagnostics[0].messageText, '\n')}`);
  return out.outputText;
}

function expand(pkg, pattern) {
  if (!pattern.endsWith('/*.ts')) return [pattern];
  const dir = pattern.slice(0, -'/*.ts'.length);
  return readdirSync(join(root, pkg, dir))
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts'))
    .sort()
    .map((name) => `${dir}/${name}`);
}

const equivalentOf = (file, m) =>
  EQUIVALENT.find((e) => e.file === file && e.line === m.lineText && e.original === m.original && e.replacement === m.replacement);

// ---------------------------------------------------------------------------------------------
// Running

/**
 * Runs test files in their own process group, stopping at the first failing test (the verdict is
 * known then): the group is killed, the servers the tests started with it. Their temporary files go
 * to `tmp`, which is emptied after each run. `timedOut` when the run had to be killed for taking too long.
 */
/** Removes a folder that a killed server may still be writing into for a moment. */
const remove = (dir) => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });

function runTests(files, timeoutMs, tmp) {
  remove(tmp);
  mkdirSync(tmp, { recursive: true });
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', `--test-timeout=${timeoutMs}`, ...files], {
      cwd: root,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running = child;
    let output = '';
    let failed = false;
    let timedOut = false;
    const stop = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    };
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (!failed && /^\s*not ok \d+/m.test(output)) {
        failed = true;
        stop();
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      running = undefined;
      remove(tmp);
      resolve({ passed: code === 0 && !failed && !timedOut, timedOut, ms: Date.now() - started, output });
    });
  });
}

let scratch;
let running;
const cleanUp = () => {
  if (running) process.kill(-running.pid, 'SIGKILL');
  if (scratch) remove(scratch);
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

const totals = [];
for (const module of modules) {
  const pkgDir = join(root, module.pkg);
  const distTest = join(pkgDir, 'dist-test');
  const sources = module.sources.flatMap((p) => expand(module.pkg, p));
  const mutants = sources.flatMap((file) => {
    const text = readFileSync(join(pkgDir, file), 'utf8');
    return mutantsOf(file, text).map((m) => ({ ...m, file }));
  });
  mutants.forEach((m, i) => (m.id = i + 1));
  console.log(`\n# ${module.name}: ${mutants.length} mutants of ${sources.join(', ')}; tests: ${module.tests.join(', ')}`);
  if (listOnly) {
    for (const m of mutants)
      console.log(
        `${String(m.id).padStart(4)} ${basename(m.file)}:${m.line}:${m.column} ${m.operator}: ${JSON.stringify(m.original).slice(0, 80)} → ${m.replacement}`,
      );
    continue;
  }
  for (const file of [...sources, ...module.tests]) {
    const built = join(distTest, file.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(pkgDir, file)).mtimeMs) {
      console.error(`${built} is missing or older than its source: run \`npx tsc -b\` (or \`npm run mutation\`)`);
      process.exit(1);
    }
  }

  // A scratch copy of the compiled tests, one per run: the build output is never changed, so a run
  // that is killed leaves nothing wrong behind. Hidden and inside dist-test, so neither the test
  // runner nor the linter sees it; package imports resolve as from dist-test itself.
  scratch = join(distTest, `.mutants-${process.pid}`);
  for (const dir of readdirSync(distTest)) {
    if (!dir.startsWith('.') && statSync(join(distTest, dir)).isDirectory()) cpSync(join(distTest, dir), join(scratch, dir), { recursive: true });
  }
  const target = (file) => join(scratch, file.replace(/\.ts$/, '.js'));
  const tests = module.tests.map((file) => target(file));
  const original = new Map(sources.map((file) => [file, compile(readFileSync(join(pkgDir, file), 'utf8'), file)]));
  for (const [file, js] of original) writeFileSync(target(file), js);

  const baseline = await runTests(tests, 300_000, join(scratch, 'tmp'));
  if (!baseline.passed) {
    console.error(`the tests fail without any mutant:\n${baseline.output}`);
    cleanUp();
    process.exit(1);
  }
  const timeoutMs = Math.max(30_000, 3 * baseline.ms);
  console.log(
    `baseline: tests pass in ${(baseline.ms / 1000).toFixed(1)} s; a mutant whose run takes over ${(timeoutMs / 1000).toFixed(0)} s is killed by timeout`,
  );

  const result = { name: module.name, mutants: 0, killed: 0, timedOut: 0, survived: [], equivalent: [], killedButListed: [] };
  for (const m of mutants) {
    if (only && !only.has(m.id)) continue;
    result.mutants++;
    const js = compile(m.mutated, m.file);
    writeFileSync(target(m.file), js);
    const run = await runTests(tests, timeoutMs, join(scratch, 'tmp'));
    writeFileSync(target(m.file), original.get(m.file));
    const equivalent = equivalentOf(m.file, m);
    let verdict;
    if (!run.passed) {
      result.killed++;
      if (run.timedOut) result.timedOut++;
      if (equivalent) result.killedButListed.push(m);
      verdict = run.timedOut ? 'killed (timeout)' : 'killed';
    } else if (equivalent) {
      result.equivalent.push({ ...m, why: equivalent.why });
      verdict = 'equivalent';
    } else {
      result.survived.push(m);
      verdict = 'SURVIVED';
    }
    console.log(
      `[${m.id}/${mutants.length}] ${verdict.padEnd(16)} ${basename(m.file)}:${m.line}:${m.column} ${m.operator}: ${JSON.stringify(m.original).slice(0, 70)} → ${m.replacement}  (${(run.ms / 1000).toFixed(1)} s)`,
    );
  }
  cleanUp();
  scratch = undefined;
  totals.push(result);
}

if (listOnly) process.exit(0);
console.log('\n# Summary');
let ok = true;
for (const r of totals) {
  const counted = r.mutants - r.equivalent.length;
  const score = (n, d) => (d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(1)} %`);
  console.log(
    `${r.name}: ${r.mutants} mutants, ${r.killed} killed (${r.timedOut} by timeout), ${r.survived.length} survived, ${r.equivalent.length} equivalent — ` +
      `score ${score(r.killed, r.mutants)} of all, ${score(r.killed, counted)} of those not equivalent`,
  );
  for (const m of r.survived)
    console.log(`  survived: ${basename(m.file)}:${m.line} ${m.operator}: ${m.lineText}  [${JSON.stringify(m.original).slice(0, 60)} → ${m.replacement}]`);
  for (const m of r.equivalent)
    console.log(
      `  equivalent: ${basename(m.file)}:${m.line} ${m.operator}: ${m.lineText}  [${JSON.stringify(m.original).slice(0, 60)} → ${m.replacement}] — ${m.why}`,
    );
  for (const m of r.killedButListed) {
    ok = false;
    console.log(`  listed as equivalent but killed (take it off the list): ${basename(m.file)}:${m.line} ${m.lineText}`);
  }
}
const listed = EQUIVALENT.filter(
  (e) =>
    !totals.some((r) => r.equivalent.some((m) => m.file === e.file && m.lineText === e.line && m.original === e.original && m.replacement === e.replacement)),
);
if (!only && listed.length > 0 && modules.length === MODULES.length) {
  for (const e of listed) console.log(`listed as equivalent but no longer a surviving mutant: ${e.file}: ${e.line} [${e.original} → ${e.replacement}]`);
}
process.exit(ok ? 0 : 1);
