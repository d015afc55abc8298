/**
 * The preStop hook of a service that holds calls: asks it to drain (POST /drain on its health
 * port) and waits until it holds nothing, so that the SIGTERM which follows finds no call left.
 * Kubernetes runs it in the service's own container (deploy/k8s/node.yaml); the cluster harness
 * runs the same file when it rolls a node.
 *
 *   node packages/service/dist/drain-hook.js --port 9104 [--host 127.0.0.1] [--wait-seconds 200]
 *
 * Exit 0 once nothing is in flight, or when the service does not answer (it is gone: nothing to
 * drain); 1 when the wait ran out with work still in flight (Kubernetes records a failed hook and
 * sends SIGTERM all the same: the service then ends what is left cleanly).
 * Sequence: docs/flows/draining.md
 */
import { parseArgs } from 'node:util';
import type { DrainStatus } from './drain.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    'wait-seconds': { type: 'string', default: '200' },
    'poll-ms': { type: 'string', default: '1000' },
  },
});
const port = Number(values.port);
const waitSeconds = Number(values['wait-seconds']);
const pollMs = Number(values['poll-ms']);
if (!Number.isInteger(port) || port <= 0 || !(waitSeconds > 0) || !(pollMs > 0)) {
  process.stderr.write('drain-hook: --port PORT [--wait-seconds S] [--poll-ms MS]\n');
  process.exit(64);
}
const url = `http://${values.host}:${port}/drain`;
const say = (text: string) => process.stdout.write(`drain-hook ${url}: ${text}\n`);

async function status(method: 'GET' | 'POST'): Promise<DrainStatus | undefined> {
  try {
    const res = await fetch(url, { method, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).trim()}`);
    return (await res.json()) as DrainStatus;
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') return undefined;
    throw error;
  }
}

const deadline = Date.now() + waitSeconds * 1000;
let current = await status('POST');
if (current === undefined) {
  say('not running: nothing to drain');
  process.exit(0);
}
say(`draining, ${current.inFlight} in flight`);
while (current !== undefined && current.inFlight > 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, pollMs));
  current = await status('GET').catch(() => current);
}
if (current !== undefined && current.inFlight > 0) {
  say(`${current.inFlight} still in flight after ${waitSeconds} s`);
  process.exit(1);
}
say('drained');
