// What hearing silence live costs media (services/media/src/silence.ts): it reads every watched
// recording's pcap as rtpengine writes it and measures each G.711 frame. This writes N growing pcaps
// the way rtpengine does — 50 PCMU packets a second each, reaching the file in 4 KiB pieces (stdio's
// buffer) — and measures the CPU time of the watch's polls alone (process.cpuUsage around each one;
// the writing is not counted): per second of recording, and for 1,000 and 4,800 recordings at once
// (4,800: 40 calls/s of 120 s messages, the README's sizing).
//
//   npm run bench -- silence-watch                  500 talking callers for 20 s, 3 s of silence end a
//                                                   message, polled every 250 ms (MEDIA_SILENCE_POLL_MS)
//   npm run bench -- silence-watch --calls 1000 --seconds 30 --poll-ms 500 --silence-ms 10000
//
// The deposit benchmark (`--silence S`) gives the same cost inside the whole platform, where it is
// smaller than the run-to-run noise of a shared machine.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SilenceWatch } from '../services/media/dist/silence.js';

const { values: options } = parseArgs({
  options: {
    calls: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '250' },
    'silence-ms': { type: 'string', default: '3000' },
  },
});
const calls = Number(options.calls);
const seconds = Number(options.seconds);
const pollMs = Number(options['poll-ms']);
const silenceMs = Number(options['silence-ms']);
const dir = mkdtempSync(join(tmpdir(), 'sipvm-bench-silence-'));

/** A pcap record of one PCMU packet (raw IP, as rtpengine writes with recording-format = raw). */
function record(sequence, nowMs) {
  const payload = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) payload[i] = i % 2 ? 0x10 : 0x90; // loud: the watch never ends one early
  const rtp = Buffer.alloc(12);
  rtp[0] = 0x80;
  rtp.writeUInt16BE(sequence & 0xffff, 2);
  rtp.writeUInt32BE((sequence * 160) >>> 0, 4);
  rtp.writeUInt32BE(7, 8);
  const ip = Buffer.alloc(28);
  ip[0] = 0x45;
  ip[9] = 17;
  const header = Buffer.alloc(16);
  header.writeUInt32LE(Math.floor(nowMs / 1000), 0);
  header.writeUInt32LE((nowMs % 1000) * 1000, 4);
  header.writeUInt32LE(200, 8);
  header.writeUInt32LE(200, 12);
  return Buffer.concat([header, ip, rtp, payload]);
}

const fileHeader = Buffer.alloc(24);
fileHeader.writeUInt32LE(0xa1b2c3d4, 0);
fileHeader.writeUInt16LE(2, 4);
fileHeader.writeUInt16LE(4, 6);
fileHeader.writeUInt32LE(65535, 16);
fileHeader.writeUInt32LE(101, 20);

const log = { warn: (...args) => console.error('watch:', ...args), debug: () => undefined, info: () => undefined };
const watch = new SilenceWatch({ pcapDir: dir, pollMs: 3_600_000, onSilence: () => console.error('a recording ended early'), log });
const recordings = Array.from({ length: calls }, (_, i) => {
  const file = `call${i}-0000.pcap`;
  writeFileSync(join(dir, file), fileHeader);
  watch.watch({ callRef: `call${i}`, codec: 'PCMU', payloadType: 0, startedAtMs: Date.now(), endOnSilence: { silenceMs, thresholdDbfs: -50 }, file });
  return { file, sequence: 0, pending: [], pendingBytes: 0 };
});

let pollCpuUs = 0;
let polls = 0;
const started = Date.now();
// rtpengine's side: a packet per call every 20 ms, reaching the file whenever 4 KiB have gathered.
const writer = setInterval(() => {
  const now = Date.now();
  for (const r of recordings) {
    const packet = record(r.sequence++, now);
    r.pending.push(packet);
    r.pendingBytes += packet.length;
    if (r.pendingBytes >= 4096) {
      appendFileSync(join(dir, r.file), Buffer.concat(r.pending));
      r.pending = [];
      r.pendingBytes = 0;
    }
  }
}, 20);
const poller = setInterval(() => {
  const before = process.cpuUsage();
  watch.poll();
  const used = process.cpuUsage(before);
  pollCpuUs += used.user + used.system;
  polls++;
}, pollMs);

await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
clearInterval(writer);
clearInterval(poller);
const recordedS = (Date.now() - started) / 1000;
watch.close();
rmSync(dir, { recursive: true, force: true });

const perRecordingSecondUs = pollCpuUs / (calls * recordedS);
const packets = recordings.reduce((sum, r) => sum + r.sequence, 0);
console.log(
  `${calls} recordings for ${recordedS.toFixed(1)} s (${packets} packets written), ${silenceMs} ms of silence end one, polled every ${pollMs} ms (${polls} polls)`,
);
console.log(`watch CPU: ${(pollCpuUs / 1000).toFixed(0)} ms in all, ${(pollCpuUs / polls / 1000).toFixed(2)} ms per poll`);
console.log(
  `per recording: ${perRecordingSecondUs.toFixed(1)} µs of CPU per second recorded (${((perRecordingSecondUs * 5.5) / 1000).toFixed(3)} ms for a 5.5 s message)`,
);
for (const concurrent of [1_000, 4_800]) {
  console.log(`${concurrent} recordings at once: ${((perRecordingSecondUs * concurrent) / 10_000).toFixed(1)} % of a core`);
}
