// Soak benchmark: hours, not minutes. Deposits at a steady rate for a long time on a fresh platform
// of its own, half of them into one mailbox that grows all along and half spread over many, and
// every minute what it looked like: calls answered and refused, how soon messages were stored
// (hang-up→stored), how many hand-overs waited, CPU per call, the memory of every process, and
// how many entries NATS holds for calls (a call's state must go when the call ends); after the
// minutes, the CPU per call of each process minute by minute (where a change of cost happened).
//
//   npm run bench -- soak                          48 calls/s (80 % of 60) for 30 minutes
//   npm run bench -- soak --rate 40 --minutes 10
//
// Options: --rate 48  --minutes 30  --hold 8  --mailboxes 2000 (the spread half)  --one-share 0.5 (of
//   the calls into the one mailbox)  --greeting-ms 0  --drain-s 180
// sipp places the calls as in the deposit benchmark, one sipp run per minute (each a minute of
// calls; the next starts as its calls are placed), so every minute has its own INVITE→200 figures.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, readSeed, request, StorageApi, STREAMS } from '@sipvm/contracts';
import { speechWav } from '@sipvm/harness';
import { startPlatform } from './lib/platform.mjs';
import { cpuSeconds } from './lib/processes.mjs';
import { fmt, notStored, observeCalls, pct, putGreeting, runSippLoadMeasured, waitForDrain } from './lib/deposits.mjs';

const { values: options } = parseArgs({
  options: {
    rate: { type: 'string', default: '48' },
    minutes: { type: 'string', default: '30' },
    hold: { type: 'string', default: '8' },
    mailboxes: { type: 'string', default: '2000' },
    'one-share': { type: 'string', default: '0.5' },
    'greeting-ms': { type: 'string', default: '0' },
    'drain-s': { type: 'string', default: '180' },
    domain: { type: 'string', default: 'example.org' },
  },
});
const rate = Number(options.rate);
const minutes = Number(options.minutes);
const holdS = Number(options.hold);
const spread = Number(options.mailboxes);
const oneShare = Number(options['one-share']);
const ONE = 'soak-one';

const work = await mkdtemp(join(tmpdir(), 'sipvm-bench-soak-'));
const platform = await startPlatform();
// As admin: the benchmark looks into NATS's own state (the KV buckets of calls) on its own platform.
const nc = await connect({
  servers: platform.nats,
  name: 'bench-soak',
  authenticator: nkeyAuthenticator(readSeed(join(platform.home, 'nats', 'auth', 'admin.nk'))),
  maxReconnectAttempts: -1,
});
const jsm = await jetstreamManager(nc);
try {
  const speech = await speechWav(join(work, 'speech.wav'), holdS + 4);
  const users = callers(rate * 60);
  if (Number(options['greeting-ms']) > 0) await putGreeting(nc, [{ did: options.domain, uid: ONE }], Number(options['greeting-ms']), work);
  console.log(
    `soak: ${rate} calls/s for ${minutes} min on a fresh platform, hold ${holdS} s; ${Math.round(oneShare * 100)} % of the calls into one mailbox, the rest over ${spread}`,
  );
  console.log(
    '\n| minute | placed | answered | refused | failed | stored | INVITE→200 p99 | hang-up→stored p50/p99 | queued (most) | CPU s/call | RSS MB: nats rtpengine media storage signaling voicemail | NATS entries of calls |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');

  const seen = observeCalls(nc);
  const processes = platform.processes();
  const roles = ['nats-server', 'rtpengine', 'media', 'storage', 'signaling', 'voicemail'];
  const rssByMinute = [];
  let queuedMost = 0;
  const queueWatch = setInterval(
    () =>
      void queued().then(
        (n) => (queuedMost = Math.max(queuedMost, n)),
        () => undefined,
      ),
    2_000,
  );
  const runs = [];
  const started = Date.now();
  /** Every process's CPU at each minute's start, and at the end: a minute's CPU is what it used meanwhile. */
  const cpuAt = [cpuByRole(processes)];
  /** Each minute's CPU s/call by process, for the table after the minutes (which process a change of cost is in). */
  const perCallByMinute = [];
  /** One table row: the calls of minute `m` (placed from `from`), once its sipp run is over. */
  const report = async (m) => {
    const { from, sipp } = await runs[m - 1];
    if (cpuAt[m] === undefined) cpuAt[m] = cpuByRole(processes);
    const answeredThen = [...seen.calls.values()].filter((c) => c.answeredAt >= from && c.answeredAt < from + 60_000);
    const stored = answeredThen.filter((c) => c.storedAt && c.endedAt);
    const delays = stored.map((c) => c.storedAt - c.endedAt);
    const rss = Object.fromEntries(roles.map((role) => [role, rssOf(processes, role)]));
    rssByMinute.push(rss);
    const used = (role) => (cpuAt[m].get(role) ?? 0) - (cpuAt[m - 1].get(role) ?? 0);
    perCallByMinute.push(new Map([...cpuAt[m].keys()].map((role) => [role, answeredThen.length ? used(role) / answeredThen.length : NaN])));
    console.log(
      `| ${m} | ${sipp.created} | ${sipp.answered} | ${sipp.refused} | ${sipp.failed} | ${stored.length} | ${fmt(pct(sipp.inviteToAnswerMs, 99))} | ${fmt(pct(delays, 50))} / ${fmt(pct(delays, 99))} | ${queuedMost} | ${answeredThen.length ? (used('total') / answeredThen.length).toFixed(4) : '—'} | ${roles.map((r) => rss[r].toFixed(0)).join(' ')} | ${await callEntries()} |`,
    );
    queuedMost = 0;
  };
  for (let minute = 1; minute <= minutes; minute++) {
    const from = Date.now();
    runs.push(
      runSippLoadMeasured({
        target: platform.target,
        rate,
        calls: rate * 60,
        holdMs: holdS * 1000,
        speech,
        mailbox: { did: options.domain, uid: ONE },
        users,
        mode: 'box',
      }).then((sipp) => ({ from, sipp })),
    );
    // The next minute's callers start as this minute's have been placed; the minute before is over by then.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + minute * 60_000 - Date.now())));
    cpuAt[minute] = cpuByRole(processes);
    if (minute > 1) await report(minute - 1);
  }
  await report(minutes);
  const results = await Promise.all(runs);
  const drained = await waitForDrain(jsm, seen, Number(options['drain-s']) * 1000);
  clearInterval(queueWatch);
  seen.stop();

  const answered = [...seen.calls.values()];
  const { lost, reasons } = notStored(answered);
  const sum = (key) => results.reduce((n, r) => n + r.sipp[key], 0);
  const delays = answered.filter((c) => c.storedAt && c.endedAt).map((c) => c.storedAt - c.endedAt);
  console.log(
    `\nin all: ${sum('created')} placed, ${sum('answered')} answered, ${sum('refused')} refused, ${sum('failed')} failed; ${answered.length - lost.length} stored, ${lost.length} not${drained ? '' : ' — QUEUE DID NOT EMPTY'}`,
  );
  for (const [why, n] of reasons) console.log(`  not stored: ${n} × ${why}`);
  console.log(`hang-up→stored over the whole soak: p50 ${fmt(pct(delays, 50))}, p99 ${fmt(pct(delays, 99))}, max ${fmt(Math.max(...delays))}`);
  const one = (await request(nc, StorageApi.countMailbox, { mailbox: { did: options.domain, uid: ONE } })).counts;
  console.log(`the one mailbox holds ${one.new + one.saved} messages`);
  // Flat after warm-up: the memory of minute 5 (or the first third) against the last minute's.
  const warm = rssByMinute[Math.min(rssByMinute.length - 1, Math.max(1, Math.floor(minutes / 6)))];
  const last = rssByMinute.at(-1);
  console.log(`memory after warm-up → at the end (MB): ${roles.map((r) => `${r} ${warm[r].toFixed(0)} → ${last[r].toFixed(0)}`).join(', ')}`);
  console.log(`NATS entries of calls at the end (KV and work queues): ${await callEntries()}`);
  const shown = [...perCallByMinute[0].keys()].filter((role) => role !== 'total');
  console.log(`\nCPU s/call by process, minute by minute:\n\n| minute | ${shown.join(' | ')} | total |\n|---|${shown.map(() => '---|').join('')}---|`);
  for (const [i, row] of perCallByMinute.entries())
    console.log(`| ${i + 1} | ${[...shown, 'total'].map((role) => (row.get(role) ?? NaN).toFixed(4)).join(' | ')} |`);
} finally {
  await nc.close();
  await platform.stop();
  await rm(work, { recursive: true, force: true });
}

/** Mailbox users in the order sipp calls them: the one mailbox for `oneShare` of the calls, the rest in turn. */
function callers(count) {
  const list = [];
  let share = 0;
  let next = 0;
  for (let i = 0; i < count; i++) {
    share += oneShare;
    if (share >= 1) {
      share -= 1;
      list.push(ONE);
    } else list.push(`soak-${next++ % spread}`);
  }
  return list;
}

async function queued() {
  return (await jsm.streams.info(STREAMS.deposits.name)).state.messages + (await jsm.streams.info(STREAMS.voicemailCallEnds.name)).state.messages;
}

/** Messages NATS keeps for calls: media's sessions and recordings, voicemail's call records. */
async function callEntries() {
  const count = async (stream) => (await jsm.streams.info(stream).catch(() => ({ state: { messages: NaN } }))).state.messages;
  return (await count(`KV_${BUCKETS.mediaState}`)) + (await count(`KV_${BUCKETS.voicemailCalls}`));
}

/** CPU seconds so far by role (processes of one role added up), and `total`. */
function cpuByRole(processes) {
  const byRole = new Map([['total', 0]]);
  for (const p of processes) {
    const s = cpuSeconds(p.pid) ?? 0;
    byRole.set(p.role, (byRole.get(p.role) ?? 0) + s);
    byRole.set('total', byRole.get('total') + s);
  }
  return byRole;
}

function rssOf(processes, role) {
  let kb = 0;
  for (const p of processes.filter((q) => q.role === role)) {
    try {
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(readStatus(p.pid))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

function readStatus(pid) {
  return readFileSync(`/proc/${pid}/status`, 'utf8');
}
