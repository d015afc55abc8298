// What the deposit benchmarks share: every voicemail call of a run followed on NATS (answer, node,
// hang-up, what became of its recording), waiting until the hand-overs are done, a personal
// greeting of a given length, and percentiles.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CallEndedEventSchema,
  CallStartedEventSchema,
  DepositOutcomeSchema,
  RecordingFinishedEventSchema,
  request,
  stageAudio,
  stagingBucket,
  StorageApi,
  STREAMS,
  SUBJECTS,
} from '@sipvm/contracts';
import { runSippLoad } from '@sipvm/harness';
import { cpuSeconds, sampleProcesses } from './processes.mjs';

/** Every voicemail call by callRef: answer, signaling instance, hang-up, silence, recording start, outcome. */
export function observeCalls(nc) {
  const calls = new Map();
  const depositPattern = /^recording-([A-Za-z0-9]+)-(\d+)\.wav$/;
  const subs = [
    nc.subscribe(SUBJECTS.call.started('voicemail'), {
      callback: (_e, msg) => {
        const event = CallStartedEventSchema.parse(msg.json());
        calls.set(event.callRef, { answeredAt: Date.parse(event.at), node: event.signalingInstance, mailbox: event.params.uid });
      },
    }),
    nc.subscribe(SUBJECTS.call.ended('voicemail'), {
      callback: (_e, msg) => {
        const event = CallEndedEventSchema.parse(msg.json());
        const call = calls.get(event.callRef);
        if (call) call.endedAt = Date.parse(event.at);
      },
    }),
    nc.subscribe(SUBJECTS.call.recordingFinished('voicemail'), {
      callback: (_e, msg) => {
        const event = RecordingFinishedEventSchema.parse(msg.json());
        const call = calls.get(event.callRef);
        if (call && event.reason === 'silence') call.silenceAt = Date.parse(event.at);
      },
    }),
    nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_e, msg) => {
        const outcome = DepositOutcomeSchema.parse(msg.json());
        const [, callRef, recordingStart] = depositPattern.exec(outcome.depositId) ?? [];
        const call = callRef && calls.get(callRef);
        if (!call) return;
        call.recordingAt = Number(recordingStart);
        call.depositAt = Date.parse(outcome.at);
        call.outcome = outcome.outcome;
        call.reason = outcome.reason;
        if (outcome.outcome.startsWith('stored')) call.storedAt = Date.parse(outcome.at);
      },
    }),
  ];
  return { calls, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

/** runSippLoad, and what sipp (the callers) cost: CPU seconds and peak memory. */
export async function runSippLoadMeasured(loadOptions) {
  let sampler;
  let pid;
  let lastCpu = 0;
  const cpuWatch = setInterval(() => (lastCpu = (pid && cpuSeconds(pid)) || lastCpu), 500);
  const result = await runSippLoad({
    ...loadOptions,
    onSpawn: (spawned) => {
      pid = spawned;
      sampler = sampleProcesses([{ pid, role: 'sipp' }]);
    },
  });
  clearInterval(cpuWatch);
  const cost = sampler?.stop().get('sipp');
  if (result.exitCode !== 0 && result.exitCode !== 1) console.log(`sipp exited with ${result.exitCode}`);
  return { ...result, cpuSeconds: Math.max(lastCpu, cost?.cpuSeconds ?? 0), peakRssBytes: cost?.peakRssBytes ?? 0 };
}

/** Why each answered call of `answered` did not leave a message, counted by reason. */
export function notStored(answered) {
  const lost = answered.filter((c) => c.outcome !== 'stored' && c.outcome !== 'stored-and-mailed');
  const reasons = new Map();
  for (const c of lost) {
    const why = c.outcome
      ? `${c.outcome}${c.reason ? ` (${c.reason.replace(/[0-9]+/g, 'N')})` : ''}`
      : c.depositAt
        ? 'deposit without outcome'
        : c.endedAt
          ? 'no recording handed over'
          : 'call never ended';
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
  }
  return { lost, reasons };
}

/** Until every call ended and the hand-over queues are empty (or the deadline passed). */
export async function waitForDrain(jsm, seen, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let quietSince = Date.now();
  let last = -1;
  while (Date.now() < deadline) {
    const open = [...seen.calls.values()].filter((c) => c.endedAt === undefined).length;
    const queued = (await jsm.streams.info(STREAMS.deposits.name)).state.messages + (await jsm.streams.info(STREAMS.voicemailCallEnds.name)).state.messages;
    const outcomes = [...seen.calls.values()].filter((c) => c.outcome).length;
    if (outcomes !== last) {
      last = outcomes;
      quietSince = Date.now();
    }
    if (open === 0 && queued === 0 && Date.now() - quietSince > 2_000) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/** A personal greeting of exactly `ms` for each mailbox, through storage like any greeting. */
export async function putGreeting(nc, mailboxes, ms, workDir) {
  const raw = join(workDir, 'greeting-raw.wav');
  const file = join(workDir, 'greeting.wav');
  run('espeak-ng', ['-v', 'en', '-s', '160', '-w', raw, 'Hello, this is Alice. Please leave a message after the tone.']);
  run('sox', [raw, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', file, 'pad', '0', '10', 'trim', '0', String(ms / 1000)]);
  const bytes = await readFile(file);
  for (const [i, mailbox] of mailboxes.entries()) {
    const audio = await stageAudio(
      await stagingBucket(nc),
      `bench-greeting-${Date.now()}-${i}.wav`,
      (async function* () {
        yield bytes;
      })(),
    );
    await request(nc, StorageApi.putGreeting, { mailbox, type: 'vm', audio });
  }
}

export function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.error?.message ?? result.stderr}`);
}

export function pct(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function fmt(ms) {
  return Number.isFinite(ms) ? (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`) : '—';
}

export function percentiles(values) {
  return `p50 ${fmt(pct(values, 50))}  p99 ${fmt(pct(values, 99))}  max ${fmt(values.length ? Math.max(...values) : NaN)}  (n=${values.length})`;
}

/** p50 / p99 for a table cell. */
export const p50p99 = (values) => `${fmt(pct(values, 50))} / ${fmt(pct(values, 99))}`;
