// Deposit benchmark: callers leave voicemails in the RUNNING platform (`npm start`, compose, …)
// at given rates, and this prints, per rate, what became of every call and what it cost.
//
//   npm run bench -- deposits                       10, 20, 40 and 50 calls/s, 40 s of calls each
//   npm run bench -- deposits --rate 40 --calls 1600 --hold 8
//
// sipp places the calls (test/sip/scenarios/voicemail-deposit.xml, through the harness's runSippLoad): P-App-Name voicemail, P-App-Param
// mod=box;usr=alice;dom=example.org;snd=bob-N@… (a sender per call), PCMU speech from the answer
// on, hang-up `--hold` seconds after the 200 OK (unless the platform hangs up first). The mailbox
// gets a personal greeting of `--greeting-ms` first (0: keep whatever greeting the platform has).
//
// Per rate it prints: answered / refused (503) / failed calls (sipp's view); messages stored (the
// mailbox count before and after, once the deposit queue is empty) and every answered call that
// was not stored, with the reason; INVITE→200, answer→recording start and caller hang-up→stored
// (p50/p99; from the silence that ended a message, where one did); CPU seconds per call and peak
// RSS of each platform process (and of sipp).
//
// Options: --rate 10,20,40,50  --calls N (default 40 s worth)  --limit N (concurrent calls, sipp -l)
//   --hold S (8)  --greeting-ms MS (2500)  --target host:port (127.0.0.1:$SIP_PORT or :5060)
//   --silence S (P-App-Param sil=S: S seconds of silence end each message; media listens to every
//     recording live)  --speech S (the callers speak S seconds from the answer, then stay silent
//     until the platform or the hold time ends the call; default: they speak the whole call)
//   --nats URL ($NATS_URL or nats://127.0.0.1:4222)  --nkey FILE (the bench's NATS identity:
//     $NATS_NKEY_FILE, else npm start's .local/nats/auth/bench.nk)  --user alice  --domain example.org
//   --drain-s S (how long to wait for the queue to empty, 120)
//   --processes checkout|all|PATH (whose CPU and memory to count: by default the processes of this
//     checkout's `npm start`; `all` for every platform process on the machine, e.g. containers)
//   --nats-monitor URL (http://127.0.0.1:8222: NATS messages per call) --media-metrics URL
//     (http://127.0.0.1:9102/metrics: rtpengine's ng latency per command)
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { inboxPrefix, readSeed, request, StorageApi } from '@sipvm/contracts';
import { speechWav } from '@sipvm/harness';
import { platformProcesses, sampleProcesses } from './lib/processes.mjs';
import { notStored, observeCalls, p50p99 as p, percentiles, putGreeting, run, runSippLoadMeasured, waitForDrain } from './lib/deposits.mjs';

const { values: options } = parseArgs({
  options: {
    rate: { type: 'string', default: '10,20,40,50' },
    calls: { type: 'string' },
    limit: { type: 'string', default: '10000' },
    hold: { type: 'string', default: '8' },
    'greeting-ms': { type: 'string', default: '2500' },
    target: { type: 'string', default: `127.0.0.1:${process.env.SIP_PORT ?? '5060'}` },
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    nkey: { type: 'string', default: process.env.NATS_NKEY_FILE ?? new URL('../.local/nats/auth/bench.nk', import.meta.url).pathname },
    user: { type: 'string', default: 'alice' },
    domain: { type: 'string', default: 'example.org' },
    'drain-s': { type: 'string', default: '120' },
    processes: { type: 'string', default: 'checkout' },
    silence: { type: 'string' },
    speech: { type: 'string' },
    'nats-monitor': { type: 'string', default: 'http://127.0.0.1:8222' },
    'media-metrics': { type: 'string', default: 'http://127.0.0.1:9102/metrics' },
  },
});
const rates = options.rate.split(',').map(Number);
const holdS = Number(options.hold);
const greetingMs = Number(options['greeting-ms']);
const mailbox = { did: options.domain, uid: options.user };
const SPEECH_S = holdS + 4; // the caller's audio lasts the whole call
const speakingS = options.speech === undefined ? SPEECH_S : Number(options.speech);
const silenceS = options.silence === undefined ? undefined : Number(options.silence);
const CHECKOUT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

if (spawnSync('sipp', ['-v']).error) {
  console.error('deposits: sipp is not installed (Debian sip-tester; `npm run setup` installs it)');
  process.exit(1);
}

const work = await mkdtemp(join(tmpdir(), 'sipvm-bench-deposits-'));
// NATS lets the benchmark do what its identity may (packages/contracts/src/permissions.ts: bench).
if (!existsSync(options.nkey)) {
  console.error(`deposits: no NATS identity at ${options.nkey} (npm start makes it; or --nkey FILE / NATS_NKEY_FILE)`);
  process.exit(1);
}
const nc = await connect({
  servers: options.nats,
  name: 'bench-deposits',
  maxReconnectAttempts: -1,
  authenticator: nkeyAuthenticator(readSeed(options.nkey)),
  inboxPrefix: inboxPrefix('bench'),
}).catch((error) => {
  console.error(`deposits: cannot reach NATS at ${options.nats} (is the platform running? \`npm start\`): ${error.message}`);
  process.exit(1);
});
const jsm = await jetstreamManager(nc);

try {
  const speech = await callerAudio();
  if (greetingMs > 0) await putGreeting(nc, [mailbox], greetingMs, work);
  console.log(`target ${options.target}, mailbox ${mailbox.uid}@${mailbox.did}, hold ${holdS} s, greeting ${greetingMs > 0 ? `${greetingMs} ms (personal)` : 'the platform default'}`);
  console.log(`callers speak ${speakingS >= SPEECH_S ? 'the whole call' : `${speakingS} s, then stay silent`}; ${silenceS === undefined ? 'silence does not end messages (no sil)' : `sil=${silenceS}: ${silenceS} s of silence end a message`}`);
  const rows = [];
  for (const rate of rates) {
    const calls = Number(options.calls ?? rate * 40);
    rows.push(await runRate(rate, calls, speech));
  }
  console.log('\n| calls/s | calls | answered | refused | failed | stored | lost | INVITE→200 p50/p99 | answer→recording p50/p99 | hang-up→stored p50/p99 | CPU s/call |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r.markdown);
} finally {
  await nc.close();
  await rm(work, { recursive: true, force: true });
}

async function runRate(rate, calls, speech) {
  console.log(`\n## ${rate} calls/s × ${calls}`);
  const before = (await request(nc, StorageApi.countMailbox, { mailbox })).counts;
  const seen = observeCalls(nc);
  const natsBefore = await natsTraffic();
  const ngBefore = await ngLatency();
  const processes = platformProcesses(options.processes === 'all' ? undefined : options.processes === 'checkout' ? CHECKOUT : options.processes);
  const sampler = sampleProcesses(processes);
  const started = Date.now();
  const sipp = await runSipp(rate, calls, speech);
  const sippDone = Date.now();
  const drained = await waitForDrain(jsm, seen, Number(options['drain-s']) * 1000);
  const costs = sampler.stop();
  const natsAfter = await natsTraffic();
  const ngAfter = await ngLatency();
  const wallS = (Date.now() - started) / 1000;
  seen.stop();
  const after = (await request(nc, StorageApi.countMailbox, { mailbox })).counts;
  const stored = after.new + after.saved - (before.new + before.saved);

  const byRef = seen.calls;
  const answered = [...byRef.values()];
  const { lost, reasons } = notStored(answered);
  const answerToRecording = answered.filter((c) => c.recordingAt).map((c) => c.recordingAt - c.answeredAt);
  // Where silence ended the message, it is handed over then (the caller hears the closing after it).
  const hangupToStored = answered.filter((c) => c.storedAt && c.endedAt).map((c) => c.storedAt - (c.silenceAt ?? c.endedAt));

  console.log(`sipp: ${sipp.created} calls placed, ${sipp.answered} answered, ${sipp.refused} refused (503), ${sipp.failed} failed${sipp.failures ? ` — ${sipp.failures}` : ''}`);
  console.log(`platform: ${answered.length} voicemail calls started, ${stored} messages stored (mailbox ${before.new + before.saved} → ${after.new + after.saved}), ${lost.length} answered calls not stored${drained ? '' : ' — QUEUE DID NOT EMPTY in time'}`);
  for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`  not stored: ${n} × ${why}`);
  const bySilence = answered.filter((c) => c.silenceAt).length;
  if (silenceS !== undefined) {
    const lengths = stored > 0 ? (await request(nc, StorageApi.listMailbox, { mailbox, limit: Math.min(stored, 1000) })).messages.map((m) => m.durationMs) : [];
    console.log(`silence ended ${bySilence} of ${answered.length} messages; stored lengths ${percentiles(lengths)} (the speech after the beep, without the silence)`);
  }
  console.log(`INVITE→200:          ${percentiles(sipp.inviteToAnswerMs)}`);
  console.log(`answer→recording:    ${percentiles(answerToRecording)}   (greeting ${greetingMs > 0 ? greetingMs : '?'} ms + beep)`);
  console.log(`hang-up→stored:      ${percentiles(hangupToStored)}`);
  console.log(`sipp ran ${((sippDone - started) / 1000).toFixed(1)} s, queue empty ${((Date.now() - sippDone) / 1000).toFixed(1)} s later`);
  if (natsBefore && natsAfter && answered.length > 0) {
    const per = (key) => ((natsAfter[key] - natsBefore[key]) / answered.length).toFixed(1);
    console.log(`NATS per call: ${per('in_msgs')} messages in, ${per('out_msgs')} out (${per('in_bytes')} bytes in)`);
  }
  if (ngBefore && ngAfter) {
    const lines = [...ngAfter].map(([command, a]) => {
      const b = ngBefore.get(command) ?? { count: 0, sum: 0 };
      const count = a.count - b.count;
      return count > 0 ? `${command} ${((1000 * (a.sum - b.sum)) / count).toFixed(2)} ms ×${(count / Math.max(1, answered.length)).toFixed(1)}` : undefined;
    });
    console.log(`rtpengine ng, mean per command and commands per call: ${lines.filter(Boolean).join(', ')}`);
  }
  const perCall = (s) => (answered.length > 0 ? s / answered.length : NaN);
  let total = 0;
  console.log('process                  CPU s/call   mean % core   peak RSS MB');
  const lines = [...costs].sort((a, b) => b[1].cpuSeconds - a[1].cpuSeconds);
  for (const [role, cost] of lines) {
    total += cost.cpuSeconds;
    console.log(`${`${role}${cost.count > 1 ? ` ×${cost.count}` : ''}`.padEnd(24)} ${perCall(cost.cpuSeconds).toFixed(4).padStart(10)} ${((100 * cost.cpuSeconds) / wallS).toFixed(1).padStart(13)} ${(cost.peakRssBytes / 2 ** 20).toFixed(0).padStart(13)}`);
  }
  console.log(`${'platform total'.padEnd(24)} ${perCall(total).toFixed(4).padStart(10)} ${((100 * total) / wallS).toFixed(1).padStart(13)}`);
  console.log(`${'sipp (the callers)'.padEnd(24)} ${perCall(sipp.cpuSeconds).toFixed(4).padStart(10)} ${((100 * sipp.cpuSeconds) / wallS).toFixed(1).padStart(13)} ${(sipp.peakRssBytes / 2 ** 20).toFixed(0).padStart(13)}`);
  return {
    markdown: `| ${rate} | ${sipp.created} | ${sipp.answered} | ${sipp.refused} | ${sipp.failed} | ${stored} | ${lost.length} | ${p(sipp.inviteToAnswerMs)} | ${p(answerToRecording)} | ${p(hangupToStored)} | ${perCall(total).toFixed(4)} |`,
  };
}

/** NATS's own message counters (its monitoring port), or undefined when it has none. */
async function natsTraffic() {
  try {
    const varz = await (await fetch(`${options['nats-monitor']}/varz`)).json();
    return { in_msgs: varz.in_msgs, out_msgs: varz.out_msgs, in_bytes: varz.in_bytes };
  } catch {
    return undefined;
  }
}

/** Media's ng command latency histogram: command → { count, sum } (successful commands). */
async function ngLatency() {
  try {
    const text = await (await fetch(options['media-metrics'])).text();
    const found = new Map();
    for (const match of text.matchAll(/^sipvm_rtpengine_command_seconds_(count|sum)\{[^}]*command="([^"]+)",outcome="ok"[^}]*\} (\S+)$/gm)) {
      const entry = found.get(match[2]) ?? { count: 0, sum: 0 };
      entry[match[1]] += Number(match[3]);
      found.set(match[2], entry);
    }
    return found;
  } catch {
    return undefined;
  }
}

async function runSipp(rate, calls, speech) {
  return runSippLoadMeasured({
    target: options.target,
    rate,
    calls,
    limit: Number(options.limit),
    holdMs: holdS * 1000,
    speech,
    mailbox,
    mode: 'box',
    ...(silenceS !== undefined ? { moreParams: `sil=${silenceS}` } : {}),
  });
}

/** The callers' audio: speech for the whole call, or `--speech` seconds of it and then silence. */
async function callerAudio() {
  if (speakingS >= SPEECH_S) return speechWav(join(work, 'speech.wav'), SPEECH_S);
  const speech = await speechWav(join(work, 'speech-only.wav'), speakingS);
  const file = join(work, 'speech.wav');
  run('sox', [speech, file, 'pad', '0', String(SPEECH_S - speakingS)]);
  return file;
}
