#!/usr/bin/env node
// Starts the whole platform on this machine as local processes — the same layout as
// docker-compose.yml, without containers: nats-server with JetStream, then each service.
// State lives under .local/ (override with SIPVM_HOME). Ctrl-C stops everything in reverse order.
//
// Environment: SIPVM_HOME (state folder, default .local), NATS_PORT (4222), and every service's
// own variables (see the README), which are passed through.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const home = resolve(process.env.SIPVM_HOME ?? join(root, '.local'));
const natsPort = process.env.NATS_PORT ?? '4222';
const natsUrl = `nats://127.0.0.1:${natsPort}`;
const service = (name) => [process.execPath, join(root, 'services', name, 'dist', 'main.js')];

/** What runs, in start order. `port` is the health/metrics port of a service. */
const components = [
  {
    name: 'nats',
    command: ['nats-server', '-js', '-a', '127.0.0.1', '-p', natsPort, '-sd', join(home, 'nats')],
    ready: /Server is ready/,
  },
  {
    name: 'storage',
    command: service('storage'),
    env: { STORAGE_BACKEND: 'local', STORAGE_DIR: join(home, 'storage'), HTTP_PORT: '9101' },
    ready: /"msg":"started"/,
  },
  {
    // Mails go to SMTP_HOST:SMTP_PORT (default 127.0.0.1:25); without a relay there they are
    // retried, then reported on vm.mail.failed.
    name: 'voicemail',
    command: service('voicemail'),
    env: { HTTP_PORT: '9103' },
    ready: /"msg":"started"/,
  },
];

mkdirSync(home, { recursive: true });
const running = [];
let stopping = false;

function start(component) {
  return new Promise((resolveStart, rejectStart) => {
    const [command, ...args] = component.command;
    const child = spawn(command, args, {
      env: { NATS_URL: natsUrl, HTTP_HOST: '127.0.0.1', ...process.env, ...component.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push({ component, child });
    let ready = false;
    const onLine = (line) => {
      process.stdout.write(`${component.name.padEnd(9)}| ${line}\n`);
      if (!ready && component.ready.test(line)) {
        ready = true;
        resolveStart();
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.on('data', (chunk) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop();
        lines.forEach(onLine);
      });
    }
    child.on('error', (error) => rejectStart(new Error(`${component.name}: cannot start ${command}: ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (!ready) rejectStart(new Error(`${component.name} exited before it was ready (${signal ?? code})`));
      else if (!stopping) {
        console.error(`${component.name} stopped unexpectedly (${signal ?? code}); stopping the platform`);
        void stopAll(1);
      }
    });
  });
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const { component, child } of running.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
    });
    console.log(`${component.name} stopped`);
  }
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  for (const component of components) await start(component);
  console.log(`\nsipvm is running (state in ${home}). NATS: ${natsUrl}. Health: http://127.0.0.1:9101/readyz (storage), :9103 (voicemail). Ctrl-C stops it.\n`);
} catch (error) {
  console.error(String(error.message ?? error));
  await stopAll(1);
}
