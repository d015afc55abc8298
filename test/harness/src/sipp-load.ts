/**
 * Many callers at once: sipp places voicemail deposits (test/sip/scenarios/voicemail-deposit.xml)
 * at a rate, each speaking real speech from the answer on and hanging up after a hold time, and
 * reports what became of the calls from its own statistics. The load test and the deposit
 * benchmark both use it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './service.js';
import { SIPP_BIN } from './sipp.js';
import { freeTcpUdpPort } from './ports.js';

export const DEPOSIT_SCENARIO = join(REPO_ROOT, 'test', 'sip', 'scenarios', 'voicemail-deposit.xml');
/** A plain call to the mailbox's owner through a proxy (deploy/kamailio/), which sends it to voicemail. */
export const PROXIED_DEPOSIT_SCENARIO = join(REPO_ROOT, 'test', 'sip', 'scenarios', 'proxied-deposit.xml');

export interface SippLoadOptions {
  /** host:port of the SIP server. */
  target: string;
  rate: number;
  calls: number;
  /** Most calls at once (sipp -l). */
  limit?: number;
  /** How long each caller stays after the 200 OK. */
  holdMs: number;
  /** The caller's speech: a µ-law WAV (see `speechWav`). */
  speech: string;
  mailbox: { uid: string; did: string };
  /** P-App-Param mode, e.g. box. */
  mode?: string;
  /**
   * The scenario: straight to the platform with P-App headers (the default), or through a proxy
   * that adds them (`PROXIED_DEPOSIT_SCENARIO`).
   */
  scenario?: string;
  /** sipp's SIP port; default a free one. */
  port?: number;
  /**
   * Mailbox users called in turn, one per call (sipp -inf), instead of `mailbox.uid` for every
   * call: many mailboxes, as in life, rather than one that every caller fills.
   */
  users?: string[];
  /** More P-App-Param keys for every call, e.g. `sil=3` (silence ends the message). */
  moreParams?: string;
  /** Told sipp's process id when it starts (a benchmark measures what sipp costs). */
  onSpawn?: (pid: number) => void;
}

export interface SippLoadResult {
  exitCode: number | null;
  /** Calls sipp started. */
  created: number;
  /** 200 OK to INVITE. */
  answered: number;
  /** 503 to INVITE. */
  refused: number;
  /** Calls sipp counted as failed (timeouts, unexpected messages, …). */
  failed: number;
  /** INVITE → 200 OK of each answered call, in ms. */
  inviteToAnswerMs: number[];
  /** The kinds of failure sipp logged, most frequent first (a 503 without Retry-After fails the call). */
  failures: string;
}

export async function runSippLoad(options: SippLoadOptions): Promise<SippLoadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sipvm-sipp-load-'));
  try {
    // sipp reads rtp_stream's file name and a recv's timeout literally (no [keyword]s there): write them in.
    const scenario = join(dir, 'deposit.xml');
    let text = (await readFile(options.scenario ?? DEPOSIT_SCENARIO, 'utf8'))
      .replaceAll('[speech]', options.speech)
      .replaceAll('[hold_ms]', String(options.holdMs));
    const injection: string[] = [];
    if (options.users?.length) {
      text = text.replaceAll('[mailbox_user]', '[field0]');
      await writeFile(join(dir, 'users.csv'), ['SEQUENTIAL', ...options.users.map((user) => `${user};`)].join('\n') + '\n');
      injection.push('-inf', join(dir, 'users.csv'));
    }
    await writeFile(scenario, text);
    const args = [
      options.target,
      '-sf',
      scenario,
      '-i',
      '127.0.0.1',
      '-p',
      String(options.port ?? (await freeTcpUdpPort())),
      '-r',
      String(options.rate),
      '-m',
      String(options.calls),
      '-l',
      String(options.limit ?? 10_000),
      '-timeout',
      `${Math.ceil(options.calls / options.rate + options.holdMs / 1000 + 60)}s`,
      '-timeout_error',
      '-nostdin',
      '-key',
      'mailbox_user',
      options.mailbox.uid,
      '-key',
      'mailbox_domain',
      options.mailbox.did,
      '-key',
      'mode',
      options.mode ?? 'box',
      '-key',
      'more_params',
      options.moreParams ? `${options.moreParams.replace(/;$/, '')};` : '',
      '-trace_rtt',
      '-rtt_freq',
      '1',
      '-trace_counts',
      '-trace_stat',
      '-fd',
      '1',
      '-trace_err',
      '-error_file',
      join(dir, 'errors.log'),
      ...injection,
    ];
    // Many concurrent calls: sipp needs a socket per call for its RTP stream.
    const child = spawn('sh', ['-c', 'ulimit -n 65536 2>/dev/null; exec "$0" "$@"', SIPP_BIN, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const files = await readdir(dir);
    const read = async (suffix: string) => {
      const name = files.find((f) => f.endsWith(suffix));
      return name ? readFile(join(dir, name), 'utf8') : '';
    };
    const counts = lastCsvRow(await read('_counts.csv'));
    const stats = lastCsvRow(await read('_.csv'));
    const column = (row: Record<string, string>, pattern: RegExp) => Number(Object.entries(row).find(([k]) => pattern.test(k))?.[1] ?? 0);
    const inviteToAnswerMs = (await read('_rtt.csv'))
      .split('\n')
      .slice(1)
      .filter((line) => line.includes(';'))
      .map((line) => Number(line.split(';')[1]))
      // Whole milliseconds: an answer within one is 0, and counts.
      .filter((v) => Number.isFinite(v) && v >= 0);
    const errors = (await readFile(join(dir, 'errors.log'), 'utf8').catch(() => '')) + stderr;
    return {
      exitCode,
      created: column(stats, /^TotalCallCreated$/),
      answered: column(counts, /^\d+_200_Recv$/),
      refused: column(counts, /^\d+_503_Recv$/),
      failed: column(stats, /^FailedCall\(C\)$/),
      inviteToAnswerMs,
      // Nothing placed at all: sipp refused to start; say why.
      failures: summarizeErrors(errors) || (column(stats, /^TotalCallCreated$/) === 0 ? `sipp exited with ${exitCode}: ${stderr.slice(-500)}` : ''),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** About `seconds` of speech as 8 kHz µ-law WAV (espeak-ng and sox), the callers' side of each call. */
export async function speechWav(file: string, seconds: number): Promise<string> {
  const raw = `${file}.raw.wav`;
  const text =
    'Hello, this is Bob calling about the delivery tomorrow morning. Please call me back when you can, my number is five five five, one two three four. Thanks, bye.';
  run('espeak-ng', ['-v', 'en', '-s', '150', '-w', raw, text]);
  run('sox', [raw, '-r', '8000', '-c', '1', '-e', 'u-law', file, 'repeat', String(Math.ceil(seconds / 8)), 'trim', '0', String(seconds)]);
  await rm(raw, { force: true });
  return file;
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.error?.message ?? result.stderr}`);
}

/** The last data row of a sipp CSV (semicolon-separated, header first) as { column: value }. */
function lastCsvRow(text: string): Record<string, string> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return {};
  const header = (lines[0] ?? '').split(';');
  const values = (lines.at(-1) ?? '').split(';');
  return Object.fromEntries(header.map((h, i) => [h.trim(), values[i]?.trim() ?? '']));
}

function summarizeErrors(text: string): string {
  const kinds = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /while expecting '([^']+)'.*received '([^\r\n']{0,60})/.exec(line) ?? /Aborting call[^:]*: (.{0,80})/.exec(line);
    if (!m) continue;
    const key = m[2] !== undefined ? `expected ${m[1]}, got ${m[2]}` : (m[1] ?? '');
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  return [...kinds]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, n]) => `${n} × ${k}`)
    .join('; ');
}
