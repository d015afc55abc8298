/**
 * The offline engine on its own: Debian's pocketsphinx and sox as child processes, at the
 * niceness asked for, stopped when the time is up, and honest about what is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spokenWav, tempDir, TEST_SENTENCES, wordErrors } from '@sipvm/harness';
import { EngineError } from './engine.js';
import { pocketsphinxEngine } from './pocketsphinx.js';

const MODEL = '/usr/share/pocketsphinx/model/en-us';

describe('the pocketsphinx engine', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let wavFile: string;
  let n = 0;
  const workDir = async () => {
    const path = join(dir.path, `job${n++}`);
    spawnSync('mkdir', [path]);
    return path;
  };

  before(async () => {
    dir = await tempDir('pocketsphinx');
    wavFile = join(dir.path, 'message.wav');
    await writeFile(wavFile, spokenWav(TEST_SENTENCES[0]!));
  });
  after(async () => {
    await dir?.remove();
  });

  it('hears an 8 kHz spoken message, its programs running at niceness 19', async () => {
    // sox as a wrapper that writes down its niceness (`nice` alone prints it), then runs the real one.
    const soxSpy = join(dir.path, 'sox-spy');
    await writeFile(soxSpy, `#!/bin/sh\nnice > "${join(dir.path, 'niceness')}"\nexec sox "$@"\n`);
    await chmod(soxSpy, 0o755);
    const engine = pocketsphinxEngine({ bin: 'pocketsphinx_batch', sox: soxSpy, modelDir: MODEL, nice: 19 });
    assert.deepEqual(await engine.problems(), []);
    const heard = await engine.hear({ wavFile, workDir: await workDir(), language: 'en', signal: AbortSignal.timeout(60_000) });
    assert.equal((await readFile(join(dir.path, 'niceness'), 'utf8')).trim(), '19');
    // A good part of what was said (how much of all the test speech it gets right: BENCHMARKS.md).
    assert.ok(wordErrors(TEST_SENTENCES[0]!, heard).rate < 0.9, `heard "${heard}"`);
    assert.match(heard, /^[a-z' ]+$/, 'words only: no utterance id, no score');
  });

  it('stops its process when the time is up', async () => {
    const engine = pocketsphinxEngine({ bin: 'pocketsphinx_batch', sox: 'sox', modelDir: MODEL, nice: 19 });
    const started = Date.now();
    await assert.rejects(
      engine.hear({ wavFile, workDir: await workDir(), language: 'en', signal: AbortSignal.timeout(150) }),
      (error: Error) => error.name === 'TimeoutError',
    );
    assert.ok(Date.now() - started < 2_000, 'not left to finish');
    const left = spawnSync('pgrep', ['-f', `-cepdir ${dir.path}`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', 'no pocketsphinx of this job still runs');
  });

  it('says what is missing, and fails (rather than hears nothing) without its model', async () => {
    const engine = pocketsphinxEngine({ bin: 'pocketsphinx_batch', sox: 'sox', modelDir: join(dir.path, 'no-model'), nice: 0 });
    const problems = await engine.problems();
    assert.equal(problems.length, 3);
    assert.match(problems[0] ?? '', /no-model\/en-us is missing \(Debian package pocketsphinx-en-us\)/);
    await assert.rejects(
      engine.hear({ wavFile, workDir: await workDir(), language: 'en', signal: AbortSignal.timeout(30_000) }),
      (error) => error instanceof EngineError && /pocketsphinx_batch failed/.test(error.message),
    );
    const absent = pocketsphinxEngine({ bin: 'no-such-pocketsphinx', sox: 'sox', modelDir: MODEL, nice: 0 });
    assert.deepEqual(await absent.problems(), ['no-such-pocketsphinx is not installed (Debian package pocketsphinx)']);
  });
});
