// Media benchmark: N concurrent calls (default 100) through the real media service and rtpengine,
// each hearing a prompt while a 1 kHz tone is recorded. Prints latency percentiles of opening a
// session and of stopping a recording (pcap → WAV → staging), and the calls left in rtpengine.
// Asserts nothing about speed; the correctness of 100 calls is a test (services/media).
//   npm run bench -- media           (BENCH_CALLS=100, BENCH_TONE_MS=1000)
import { callsInRtpengine, startMediaRig } from '../services/media/dist-test/test/support.js';
import { runConcurrentCalls } from '../services/media/dist-test/test/load.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 100);
const TONE_MS = Number(process.env.BENCH_TONE_MS ?? 1000);
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (v) => `${v.toFixed(1)} ms`;

const rig = await startMediaRig({ ports: Math.max(400, CALLS * 8), env: { LOG_LEVEL: 'warn' } });
try {
  const started = performance.now();
  const outcomes = await runConcurrentCalls(rig, CALLS, TONE_MS);
  const wall = performance.now() - started;
  const ok = outcomes.filter((o) => o.ok);
  const left = (await callsInRtpengine(rig)).length;
  console.log(`calls: ${CALLS} concurrent (arriving over 1 s), ${TONE_MS} ms recorded each, wall ${ms(wall)}`);
  console.log(`ok: ${ok.length}, failed: ${CALLS - ok.length}${CALLS - ok.length ? ` (first: ${outcomes.find((o) => !o.ok)?.error})` : ''}`);
  const open = ok.map((o) => o.openMs);
  const stop = ok.map((o) => o.stopRecordingMs);
  console.log(`open session: p50 ${ms(pct(open, 50))}  p95 ${ms(pct(open, 95))}  max ${ms(Math.max(...open))}`);
  console.log(`stop recording (pcap → WAV → staged): p50 ${ms(pct(stop, 50))}  p95 ${ms(pct(stop, 95))}  max ${ms(Math.max(...stop))}`);
  console.log(`calls left in rtpengine after close: ${left}`);
  if (ok.length !== CALLS || left !== 0) process.exitCode = 1;
} finally {
  await rig.stop();
}
