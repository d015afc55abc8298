/**
 * Draining through the health port, as a Kubernetes preStop hook does it: the hook (drain-hook.js)
 * begins the drain, readiness and metrics say so at once, and the hook returns only when nothing
 * is in flight any more.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Registry } from 'prom-client';
import { Drain } from './drain.js';
import { Readiness, startHealthServer } from './health.js';

const HOOK = join(dirname(fileURLToPath(import.meta.url)), 'drain-hook.js');

function runHook(args: string[]): Promise<{ code: number | null; output: string; endedAt: number }> {
  const child = spawn(process.execPath, [HOOK, ...args]);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output, endedAt: Date.now() })));
}

it('POST /drain begins draining: not ready, sipvm_draining 1, and the hook waits until nothing is in flight', async () => {
  const drain = new Drain();
  const readiness = new Readiness();
  drain.onStart(() => readiness.markStopping());
  let calls = 2;
  drain.track(() => calls);
  let began = 0;
  drain.onStart(() => began++);
  const registry = new Registry();
  const health = await startHealthServer({ host: '127.0.0.1', port: 0, readiness, registry, drain });
  try {
    const base = `http://127.0.0.1:${health.port}`;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.deepEqual(await (await fetch(`${base}/drain`)).json(), { draining: false, inFlight: 2 });

    const hook = runHook(['--port', String(health.port), '--poll-ms', '100', '--wait-seconds', '20']);
    await waitUntil(() => drain.draining);
    assert.equal((await fetch(`${base}/readyz`)).status, 503, 'a draining instance is not ready');
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^sipvm_draining 1$/m);
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^sipvm_ready 0$/m);
    // The calls end one by one; the hook returns only after the last.
    await new Promise((resolve) => setTimeout(resolve, 500));
    calls = 1;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lastCallEndedAt = Date.now();
    calls = 0;
    const result = await hook;
    assert.equal(result.code, 0, result.output);
    assert.ok(result.endedAt >= lastCallEndedAt, 'the hook returned before the last call ended');
    assert.match(result.output, /drained/);
    // A second drain changes nothing.
    assert.equal((await fetch(`${base}/drain`, { method: 'POST' })).status, 202);
    assert.equal(began, 1);
  } finally {
    await health.close();
  }
});

it('the hook fails when the wait runs out with calls in flight, and succeeds at once when the service is gone', async () => {
  const drain = new Drain();
  drain.track(() => 1);
  const health = await startHealthServer({ host: '127.0.0.1', port: 0, readiness: new Readiness(), registry: new Registry(), drain });
  const port = String(health.port);
  try {
    const stuck = await runHook(['--port', port, '--poll-ms', '100', '--wait-seconds', '1']);
    assert.equal(stuck.code, 1, stuck.output);
    assert.match(stuck.output, /1 still in flight/);
  } finally {
    await health.close();
  }
  const gone = await runHook(['--port', port, '--wait-seconds', '1']);
  assert.equal(gone.code, 0, gone.output);
  assert.match(gone.output, /not running/);
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
