// What kind of machine a benchmark ran on, measured before the platform starts, so that figures
// from different machines are not compared as if they were alike.
//
// The platform's cost is dominated by waking processes: every NATS message, ng command and RTP
// packet wakes another process or thread. What one wake-up costs differs between machines far more
// than their CPUs' speed: on a 2-core VM under a PVM hypervisor with page-table isolation (`pti=on`),
// each process cost 1.6 to 2 times the CPU per call it cost on a KVM VM of the same size, rtpengine
// included (BENCHMARKS.md, "This machine's kind"). So each run prints the round trip of a wake-up
// between two threads (futex wait and wake, as a NATS hand-over between processes costs), and
// the kernel's Meltdown mitigation, which puts a page-table switch on every kernel entry.
import { availableParallelism, cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const ROUND_TRIPS = 20_000;
const BATCHES = 5;

/** Two threads waking each other in turn: the median of BATCHES batches, in µs per round trip. */
export async function wakeRoundTripUs() {
  // A counter: the main thread makes it odd and waits; the echo makes it even and waits. -1 stops.
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const echo = new Worker(
    `const { workerData: counter } = require('node:worker_threads');
     for (let seen = 0; ; ) {
       Atomics.wait(counter, 0, seen);
       const value = Atomics.load(counter, 0);
       if (value < 0) break;
       seen = value + 1;
       Atomics.store(counter, 0, seen);
       Atomics.notify(counter, 0);
     }`,
    { eval: true, workerData: counter },
  );
  await new Promise((resolve) => echo.once('online', resolve));
  const perBatch = [];
  try {
    for (let batch = 0, value = 0; batch < BATCHES; batch++) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < ROUND_TRIPS; i++, value += 2) {
        Atomics.store(counter, 0, value + 1);
        Atomics.notify(counter, 0);
        Atomics.wait(counter, 0, value + 1);
      }
      perBatch.push(Number(process.hrtime.bigint() - started) / 1000 / ROUND_TRIPS);
    }
  } finally {
    Atomics.store(counter, 0, -1);
    Atomics.notify(counter, 0);
    await echo.terminate();
  }
  perBatch.sort((a, b) => a - b);
  return perBatch[Math.floor(perBatch.length / 2)];
}

function readText(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** One line about this machine: cores, CPU, virtualisation, the Meltdown mitigation, the wake-up round trip. */
export async function describeMachine() {
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  const virtual = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo);
  const meltdown = readText('/sys/devices/system/cpu/vulnerabilities/meltdown');
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const roundTrip = await wakeRoundTripUs();
  return (
    `machine: ${availableParallelism()} cores (${model}${virtual ? ', virtual' : ''}), ` +
    `meltdown: ${meltdown ?? 'unknown'}, wake-up round trip between two threads ${roundTrip.toFixed(1)} µs ` +
    '(compare figures only between machines where this is alike)'
  );
}
