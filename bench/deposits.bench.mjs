// Deposit benchmark: callers leave voicemails at given rates, and this prints, per rate, what
// became of every call and what it cost — by default on a platform of its own, started fresh
// (`npm start` in a new state folder, on ports of its own) for each of three runs per rate, with
// the median and the worst of the runs.
//
//   npm run bench -- deposits                                  20, 40 and 60 calls/s, 40 s of calls, 3 runs each
//   npm run bench -- deposits --rate 60 --calls 2400 --hold 8
//   npm run bench -- deposits --platform running               the platform `npm start` runs (1 run per rate)
//
// sipp places the calls (test/sip/scenarios/voicemail-deposit.xml, through the harness's runSippLoad):
// P-App-Name voicemail, P-App-Param mod=box;usr=<user>;dom=<domain>;snd=bob-N@… (a sender per call),
// PCMU speech from the answer on, hang-up `--hold` seconds after the 200 OK (unless the platform
// hangs up first). The mailbox has no personal greeting (the platform's default greeting plays)
// unless `--greeting-ms` asks for one of that length.
//
// Per run it prints: answered / refused (503) / failed calls (sipp's view); messages stored (the
// mailbox count before and after, once the hand-over queues are empty) and every answered call that
// was not stored, with the reason; INVITE→200, answer→recording start and caller hang-up→stored
// (p50/p99; from the silence that ended a message, where one did); rtpengine's ng commands (mean
// time, count per call); NATS messages per call; CPU seconds per call and peak RSS of every
// process of the platform (and of sipp). Then, per rate, the median and the worst of the runs.
// First of all, the machine it ran on and what a wake-up costs there (lib/machine.mjs): the same
// code costs twice as much CPU per call on some 2-core VMs as on others.
//
// Options: --rate 20,40,60  --calls N (default 40 s worth)  --runs N (3)  --limit N (calls at once, sipp -l)
//   --hold S (8)  --greeting-ms MS (0: the platform's default greeting)  --user alice  --domain example.org
//   --silence S (P-App-Param sil=S: S seconds of silence end each message; media listens to every
//     recording live)  --speech S (the callers speak S seconds from the answer, then stay silent
//     until the platform or the hold time ends the call; default: they speak the whole call)
//   --prefill N (N messages stored into the mailbox before the calls: a deposit into a full mailbox)
//   --warm-up N (N calls at the same rate into another mailbox before the measured ones, on the same
//     platform, not measured: what a platform that has carried calls for a while costs, against the
//     cold start a fresh platform measures — Node compiles each service's call path as it runs it)
//   --platform fresh|running (fresh: started here for each run; running: the one at --target/--nats)
//   --drain-s S (how long to wait for the queue to empty, 120)
//   With --platform running: --target host:port (127.0.0.1:$SIP_PORT or :5060)  --nats URL
//     ($NATS_URL or nats://127.0.0.1:4222)  --nkey FILE ($NATS_NKEY_FILE, else .local/nats/auth/bench.nk)
//     --nats-monitor URL (http://127.0.0.1:8222)  --media-metrics URL (http://127.0.0.1:9102/metrics)
//     --processes all|checkout|PATH (whose CPU to count: every platform process on the machine by
//     default; `checkout` those of this checkout's `npm start`; or those whose command line names PATH)
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { inboxPrefix, readSeed, request, stageAudio, stagingBucket, StorageApi, wavHeader } from '@sipvm/contracts';
import { speechWav } from '@sipvm/harness';
import { describeMachine } from './lib/machine.mjs';
import { platformProcesses, sampleProcesses } from './lib/processes.mjs';
import { startPlatform } from './lib/platform.mjs';
import { fmt, notStored, observeCalls, p50p99 as p, pct, percentiles, putGreeting, run, runSippLoadMeasured, waitForDrain } from './lib/deposits.mjs';

const { values: options } = parseArgs({
  options: {
    rate: { type: 'string', default: '20,40,60' },
    calls: { type: 'string' },
    runs: { type: 'string' },
    limit: { type: 'string', default: '10000' },
    hold: { type: 'string', default: '8' },
    'greeting-ms': { type: 'string', default: '0' },
    prefill: { type: 'string', default: '0' },
    'warm-up': { type: 'string', default: '0' },
    platform: { type: 'string', default: 'fresh' },
    target: { type: 'string', default: `127.0.0.1:${process.env.SIP_PORT ?? '5060'}` },
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    nkey: { type: 'string', default: process.env.NATS_NKEY_FILE ?? new URL('../.local/nats/auth/bench.nk', import.meta.url).pathname },
    user: { type: 'string', default: 'alice' },
    domain: { type: 'string', default: 'example.org' },
    'drain-s': { type: 'string', default: '120' },
    processes: { type: 'string', default: 'all' },
    silence: { type: 'string' },
    speech: { type: 'string' },
    'nats-monitor': { type: 'string', default: 'http://127.0.0.1:8222' },
    'media-metrics': { type: 'string', default: 'http://127.0.0.1:9102/metrics' },
  },
});
const fresh = options.platform === 'fresh';
if (!fresh && options.platform !== 'running') {
  console.error(`deposits: --platform is fresh or running, not ${options.platform}`);
  process.exit(64);
}
const rates = options.rate.split(',').map(Number);
const runs = Number(options.runs ?? (fresh ? 3 : 1));
const holdS = Number(options.hold);
const greetingMs = Number(options['greeting-ms']);
const SPEECH_S = holdS + 4; // the caller's audio lasts the whole call
const speakingS = options.speech === undefined ? SPEECH_S : Number(options.speech);
const silenceS = options.silence === undefined ? undefined : Number(options.silence);
const warmUpCalls = Number(options['warm-up']);
if (!Number.isInteger(warmUpCalls) || warmUpCalls < 0) {
  console.error(`deposits: --warm-up is a number of calls, not ${options['warm-up']}`);
  process.exit(64);
}
const CHECKOUT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

if (spawnSync('sipp', ['-v']).error) {
  console.error('deposits: sipp is not installed (Debian sip-tester; `npm run setup` installs it)');
  process.exit(1);
}
if (!fresh && !existsSync(options.nkey)) {
  console.error(`deposits: no NATS identity at ${options.nkey} (npm start makes it; or --nkey FILE / NATS_NKEY_FILE)`);
  process.exit(1);
}

const work = await mkdtemp(join(tmpdir(), 'sipvm-bench-deposits-'));
let speechFile;
try {
  await speech();
  console.log(await describeMachine());
  console.log(
    `${fresh ? `a fresh platform for each run (${runs} per rate)` : `the running platform at ${options.target}`}, hold ${holdS} s, greeting ${greetingMs > 0 ? `${greetingMs} ms (personal)` : "the platform's default"}`,
  );
  if (warmUpCalls > 0) console.log(`before each run, ${warmUpCalls} calls at its rate into another mailbox, not measured (--warm-up)`);
  console.log(
    `callers speak ${speakingS >= SPEECH_S ? 'the whole call' : `${speakingS} s, then stay silent`}; ${silenceS === undefined ? 'silence does not end messages (no sil)' : `sil=${silenceS}: ${silenceS} s of silence end a message`}`,
  );
  const summary = [];
  for (const rate of rates) {
    const calls = Number(options.calls ?? rate * 40);
    const results = [];
    for (let i = 1; i <= runs; i++) {
      console.log(`\n## ${rate} calls/s × ${calls}${runs > 1 ? `, run ${i} of ${runs}` : ''}`);
      results.push(await onPlatform((platform) => runRate(platform, rate, calls, i)));
    }
    summary.push({ rate, calls, results });
  }
  console.log('\nEvery run:\n');
  console.log(
    '| calls/s | calls | answered | refused | failed | stored | lost | INVITE→200 p50/p99 | answer→recording p50/p99 | hang-up→stored p50/p99 | CPU s/call |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const { results } of summary) for (const r of results) console.log(r.markdown);
  if (runs > 1) {
    console.log(`\nMedian and worst of ${runs} runs per rate:\n`);
    console.log('| calls/s | calls | answered | refused | failed | lost | INVITE→200 p99 | answer→recording p99 | hang-up→stored p99 | CPU s/call |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const { rate, calls, results } of summary) console.log(medianAndWorst(rate, calls, results));
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

/** Runs `measure` on a platform: a fresh one (stopped afterwards) or the running one. */
async function onPlatform(measure) {
  const started = fresh ? await startPlatform() : undefined;
  const where = started ?? {
    target: options.target,
    nats: options.nats,
    nkey: options.nkey,
    natsMonitor: options['nats-monitor'],
    mediaMetrics: options['media-metrics'],
  };
  const nc = await connect({
    servers: where.nats,
    name: 'bench-deposits',
    maxReconnectAttempts: -1,
    authenticator: nkeyAuthenticator(readSeed(where.nkey)),
    inboxPrefix: inboxPrefix('bench'),
  }).catch((error) => {
    console.error(`deposits: cannot reach NATS at ${where.nats} (is the platform running? \`npm start\`): ${error.message}`);
    process.exit(1);
  });
  try {
    const processes = () =>
      started
        ? started.processes()
        : platformProcesses(options.processes === 'all' ? undefined : options.processes === 'checkout' ? CHECKOUT : options.processes);
    return await measure({ ...where, nc, jsm: await jetstreamManager(nc), processes });
  } finally {
    await nc.close();
    await started?.stop();
  }
}

async function runRate(platform, rate, calls, runNumber) {
  const { nc, jsm } = platform;
  // A mailbox per run on a running platform, so that its counts say what this run stored.
  const mailbox = { did: options.domain, uid: fresh ? options.user : `${options.user}-${Date.now().toString(36)}-${runNumber}` };
  if (greetingMs > 0) await putGreeting(nc, [mailbox], greetingMs, work);
  if (Number(options.prefill) > 0) await prefill(nc, mailbox, Number(options.prefill));
  if (warmUpCalls > 0) await warmUp(platform, rate, { did: mailbox.did, uid: `${mailbox.uid}-warm-up` });
  const before = (await request(nc, StorageApi.countMailbox, { mailbox })).counts;
  const seen = observeCalls(nc);
  const natsBefore = await natsTraffic(platform);
  const ngBefore = await ngLatency(platform);
  const sampler = sampleProcesses(platform.processes());
  const started = Date.now();
  const sipp = await placeCalls(platform, rate, calls, mailbox);
  const sippDone = Date.now();
  const drained = await waitForDrain(jsm, seen, Number(options['drain-s']) * 1000);
  const costs = sampler.stop();
  const natsAfter = await natsTraffic(platform);
  const ngAfter = await ngLatency(platform);
  const wallS = (Date.now() - started) / 1000;
  seen.stop();
  const after = (await request(nc, StorageApi.countMailbox, { mailbox })).counts;
  const stored = after.new + after.saved - (before.new + before.saved);

  const answered = [...seen.calls.values()];
  const { lost, reasons } = notStored(answered);
  const answerToRecording = answered.filter((c) => c.recordingAt).map((c) => c.recordingAt - c.answeredAt);
  // Where silence ended the message, it is handed over then (the caller hears the closing after it).
  const hangupToStored = answered.filter((c) => c.storedAt && c.endedAt).map((c) => c.storedAt - (c.silenceAt ?? c.endedAt));

  console.log(
    `sipp: ${sipp.created} calls placed, ${sipp.answered} answered, ${sipp.refused} refused (503), ${sipp.failed} failed${sipp.failures ? ` — ${sipp.failures}` : ''}`,
  );
  console.log(
    `platform: ${answered.length} voicemail calls started, ${stored} messages stored (mailbox ${before.new + before.saved} → ${after.new + after.saved}), ${lost.length} answered calls not stored${drained ? '' : ' — QUEUE DID NOT EMPTY in time'}`,
  );
  for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`  not stored: ${n} × ${why}`);
  if (silenceS !== undefined) {
    const bySilence = answered.filter((c) => c.silenceAt).length;
    const lengths = stored > 0 ? (await request(nc, StorageApi.listMailbox, { mailbox, limit: Math.min(stored, 1000) })).messages.map((m) => m.durationMs) : [];
    console.log(
      `silence ended ${bySilence} of ${answered.length} messages; stored lengths ${percentiles(lengths)} (the speech after the beep, without the silence)`,
    );
  }
  console.log(`INVITE→200:          ${percentiles(sipp.inviteToAnswerMs)}`);
  console.log(`answer→recording:    ${percentiles(answerToRecording)}   (greeting ${greetingMs > 0 ? `${greetingMs} ms` : "the platform's"} + beep)`);
  console.log(`hang-up→stored:      ${percentiles(hangupToStored)}`);
  console.log(`sipp ran ${((sippDone - started) / 1000).toFixed(1)} s, queue empty ${((Date.now() - sippDone) / 1000).toFixed(1)} s later`);
  const atOnce = mostAtOnce(answered);
  console.log(`calls in progress at most: ${atOnce}`);
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
  for (const change of platform.admissionChanges?.(started) ?? []) {
    const measured = `media answer p90 ${Math.round(change.mediaAnswerP90Ms)} ms, event loop delay p99 ${Math.round(change.loopDelayP99Ms)} ms`;
    console.log(
      `admission at +${((change.at - started) / 1000).toFixed(1)} s: ${change.overloaded ? 'overloaded, refusing new calls' : 'taking calls again'} (${measured})`,
    );
  }
  const perCall = (s) => (answered.length > 0 ? s / answered.length : NaN);
  let total = 0;
  console.log('process                  CPU s/call   mean % core   peak RSS MB   KB per call in progress');
  let memoryPerCall = 0;
  for (const [role, cost] of [...costs].sort((a, b) => b[1].cpuSeconds - a[1].cpuSeconds)) {
    total += cost.cpuSeconds;
    const grew = atOnce > 0 ? Math.max(0, cost.peakRssBytes - cost.startRssBytes) / atOnce : 0;
    memoryPerCall += grew;
    console.log(
      `${`${role}${cost.count > 1 ? ` ×${cost.count}` : ''}`.padEnd(24)} ${perCall(cost.cpuSeconds).toFixed(4).padStart(10)} ${((100 * cost.cpuSeconds) / wallS).toFixed(1).padStart(13)} ${(cost.peakRssBytes / 2 ** 20).toFixed(0).padStart(13)} ${(grew / 1024).toFixed(0).padStart(25)}`,
    );
  }
  console.log(`memory per call in progress (peak RSS above the start, over ${atOnce} calls at once): ${(memoryPerCall / 1024).toFixed(0)} KB`);
  console.log(`${'platform total'.padEnd(24)} ${perCall(total).toFixed(4).padStart(10)} ${((100 * total) / wallS).toFixed(1).padStart(13)}`);
  console.log(
    `${'sipp (the callers)'.padEnd(24)} ${perCall(sipp.cpuSeconds).toFixed(4).padStart(10)} ${((100 * sipp.cpuSeconds) / wallS).toFixed(1).padStart(13)} ${(sipp.peakRssBytes / 2 ** 20).toFixed(0).padStart(13)}`,
  );
  const result = {
    answered: sipp.answered,
    refused: sipp.refused,
    failed: sipp.failed,
    stored,
    lost: lost.length,
    inviteP99: pct(sipp.inviteToAnswerMs, 99),
    recordingP99: pct(answerToRecording, 99),
    storedP99: pct(hangupToStored, 99),
    cpuPerCall: perCall(total),
  };
  return {
    ...result,
    markdown: `| ${rate} | ${sipp.created} | ${sipp.answered} | ${sipp.refused} | ${sipp.failed} | ${stored} | ${lost.length} | ${p(sipp.inviteToAnswerMs)} | ${p(answerToRecording)} | ${p(hangupToStored)} | ${perCall(total).toFixed(4)} |`,
  };
}

/**
 * The same calls into another mailbox, before the measured ones: the platform runs every step of a
 * deposit a few thousand times before the figures are taken. Its greeting is the measured mailbox's.
 */
async function warmUp(platform, rate, mailbox) {
  if (greetingMs > 0) await putGreeting(platform.nc, [mailbox], greetingMs, work);
  const seen = observeCalls(platform.nc);
  const started = Date.now();
  const sipp = await placeCalls(platform, rate, warmUpCalls, mailbox);
  const drained = await waitForDrain(platform.jsm, seen, Number(options['drain-s']) * 1000);
  seen.stop();
  console.log(
    `warm-up: ${sipp.created} calls in ${((Date.now() - started) / 1000).toFixed(0)} s, ${sipp.answered} answered, ${sipp.refused} refused, ${sipp.failed} failed${drained ? '' : ' — QUEUE DID NOT EMPTY in time'} (not measured)`,
  );
}

/** sipp's callers: `calls` box-mode deposits into `mailbox` at `rate` a second, as the options say. */
async function placeCalls(platform, rate, calls, mailbox) {
  return runSippLoadMeasured({
    target: platform.target,
    rate,
    calls,
    limit: Number(options.limit),
    holdMs: holdS * 1000,
    speech: await speech(),
    mailbox,
    mode: 'box',
    ...(silenceS !== undefined ? { moreParams: `sil=${silenceS}` } : {}),
  });
}

/** The most calls answered and not yet ended at one moment. */
function mostAtOnce(calls) {
  const changes = calls.flatMap((c) => [[c.answeredAt, 1], ...(c.endedAt ? [[c.endedAt, -1]] : [])]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, change] of changes) most = Math.max(most, (now += change));
  return most;
}

/** Stores `count` short messages into the mailbox (through storage, as deposits do). */
async function prefill(nc, mailbox, count) {
  const bytes = Buffer.concat([wavHeader(8000), Buffer.alloc(8000, 1)]);
  const staging = await stagingBucket(nc);
  const started = Date.now();
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
        const audio = await stageAudio(
          staging,
          `prefill-${started}-${i + k}.wav`,
          (async function* () {
            yield bytes;
          })(),
        );
        await request(nc, StorageApi.createMessage, {
          mailbox,
          sender: 'sip:prefill@example.org',
          recordedAt: new Date().toISOString(),
          durationMs: 500,
          codec: 'PCMU',
          audio,
        });
      }),
    );
  }
  console.log(`prefilled the mailbox with ${count} messages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** A table row: each figure's median over the runs, and its worst (the fewest answered, the most of the rest). */
function medianAndWorst(rate, calls, results) {
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const cell = (key, format = String, worstIs = Math.max) => {
    const values = results.map((r) => r[key]).filter((v) => Number.isFinite(v));
    return values.length ? `${format(median(values))} (worst ${format(worstIs(...values))})` : '—';
  };
  return `| ${rate} | ${calls} | ${cell('answered', String, Math.min)} | ${cell('refused')} | ${cell('failed')} | ${cell('lost')} | ${cell('inviteP99', fmt)} | ${cell('recordingP99', fmt)} | ${cell('storedP99', fmt)} | ${cell('cpuPerCall', (v) => v.toFixed(4))} |`;
}

/** NATS's own message counters (its monitoring port), or undefined when it has none. */
async function natsTraffic(platform) {
  try {
    const varz = await (await fetch(`${platform.natsMonitor}/varz`)).json();
    return { in_msgs: varz.in_msgs, out_msgs: varz.out_msgs, in_bytes: varz.in_bytes };
  } catch {
    return undefined;
  }
}

/** Media's ng command latency histogram: command → { count, sum } (successful commands). */
async function ngLatency(platform) {
  try {
    const text = await (await fetch(platform.mediaMetrics)).text();
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

/** The callers' audio file (made once): speech for the whole call, or `--speech` seconds of it and then silence. */
async function speech() {
  speechFile ??= await callerAudio();
  return speechFile;
}

async function callerAudio() {
  if (speakingS >= SPEECH_S) return speechWav(join(work, 'speech.wav'), SPEECH_S);
  const spoken = await speechWav(join(work, 'speech-only.wav'), speakingS);
  const file = join(work, 'speech.wav');
  run('sox', [spoken, file, 'pad', '0', String(SPEECH_S - speakingS)]);
  return file;
}
