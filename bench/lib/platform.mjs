// A platform of the benchmark's own: `npm start` (scripts/start-local.mjs) in a new state folder,
// on ports of its own (moved by SIPVM_PORT_OFFSET, so a platform the user runs is left alone),
// started fresh for each run and stopped after it. What the benchmark measures is exactly its
// processes: start-local and everything it started (nats-server, rtpengine, drachtio-server, the
// services), found as its descendants.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processTree } from './processes.mjs';

const CHECKOUT = new URL('../..', import.meta.url).pathname;

/** Where the benchmark's own platform listens: every fixed port moved by this much. */
export const OFFSET = 1000;

/**
 * Starts a fresh platform; resolves when it says it is running. `env` adds or overrides variables
 * of the platform (service settings such as VM_MAX_MESSAGE_MS).
 */
export async function startPlatform(env = {}) {
  const home = await mkdtemp(join(tmpdir(), 'sipvm-bench-platform-'));
  const ports = {
    nats: 4222 + OFFSET,
    natsMonitor: 8222 + OFFSET,
    sip: 5060 + OFFSET,
    web: 8080 + OFFSET,
    mediaHealth: 9102 + OFFSET,
  };
  const child = spawn(process.execPath, [join(CHECKOUT, 'scripts', 'start-local.mjs')], {
    cwd: CHECKOUT,
    env: {
      ...process.env,
      SIPVM_HOME: home,
      SIPVM_PORT_OFFSET: String(OFFSET),
      NATS_PORT: String(ports.nats),
      NATS_MONITOR_PORT: String(ports.natsMonitor),
      SIP_PORT: String(ports.sip),
      WEB_PORT: String(ports.web),
      RTP_PORT_MIN: '30000',
      RTP_PORT_MAX: '39999',
      // The prompt set is built once for every fresh platform, not at each start.
      PROMPTS_DIR: join(tmpdir(), 'sipvm-bench-prompts'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const admission = admissionRecorder();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the platform did not start within 90 s:\n${output.slice(-3000)}`)), 90_000);
    const onData = (chunk) => {
      output = (output + chunk).slice(-20_000);
      admission.read(chunk);
      if (output.includes('sipvm is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the platform exited (${code}) before it was running:\n${output.slice(-3000)}`));
    });
  });
  return {
    home,
    target: `127.0.0.1:${ports.sip}`,
    nats: `nats://127.0.0.1:${ports.nats}`,
    nkey: join(home, 'nats', 'auth', 'bench.nk'),
    natsMonitor: `http://127.0.0.1:${ports.natsMonitor}`,
    mediaMetrics: `http://127.0.0.1:${ports.mediaHealth}/metrics`,
    /** Everything the platform runs: start-local (its log relay) and its descendants. */
    processes: () => processTree(child.pid),
    /** What it printed lately (for a failure's report). */
    output: () => output,
    /** When signaling turned overloaded and back since `since` (ms), and what it measured. */
    admissionChanges: (since) => admission.since(since),
    /** Stops it as Ctrl-C would, and removes its state. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }, 60_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * Signaling's admission changes, from the log lines it prints ("overloaded: …", "no longer
 * overloaded: …"): a run that refused calls says which limit refused them (media's answer time or
 * the event loop's delay) and when. The last 100 are kept.
 */
function admissionRecorder() {
  const changes = [];
  let partial = '';
  return {
    read(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('signaling|') || !line.includes('overloaded')) continue;
        try {
          const entry = JSON.parse(line.slice(line.indexOf('{')));
          if (typeof entry.msg !== 'string' || !/^(no longer )?overloaded/.test(entry.msg)) continue;
          changes.push({
            at: Date.parse(entry.time),
            overloaded: entry.msg.startsWith('overloaded'),
            loopDelayP99Ms: entry.loopDelayP99Ms,
            mediaAnswerP90Ms: entry.mediaAnswerP90Ms,
          });
          if (changes.length > 100) changes.shift();
        } catch {
          // not a log line of signaling's: nothing to record
        }
      }
    },
    since: (since) => changes.filter((change) => change.at >= since),
  };
}
