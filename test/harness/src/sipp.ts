/**
 * sipp (Debian `sip-tester`) runs one scenario file against a target, bounded in calls (-m) and
 * time (-timeout), and reports its exit code (0: every call passed) and the messages it saw.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeTcpUdpPort } from './ports.js';
import { tempDir } from './tmp.js';

export const SIPP_BIN = process.env.SIPP_BIN ?? 'sipp';

export interface SippOptions {
  /** Path of the scenario XML. */
  scenario: string;
  /** host:port of the SIP server under test; unset for a scenario that only answers (UAS). */
  target?: string;
  /** Local SIP port; default a free one. */
  port?: number;
  /** Number of calls (-m); default 1. */
  calls?: number;
  /** Whole-run bound in seconds (-timeout); default 20. */
  timeoutSeconds?: number;
  /** `-key name value` pairs, used as [name] in the scenario. */
  keys?: Record<string, string>;
  /** The service (-s) user part; default `sipp`. */
  service?: string;
  transport?: 'udp' | 'tcp';
  /** Extra command-line arguments. */
  args?: string[];
}

export interface SippResult {
  /** 0 when all calls succeeded, 1 when at least one failed, 97/99 etc. on sipp errors. */
  readonly exitCode: number | null;
  /** Every SIP message sent and received (sipp -trace_msg). */
  readonly messages: string;
  /** sipp's own error log (-trace_err) and stderr. */
  readonly errors: string;
  /** The local SIP port sipp used. */
  readonly port: number;
}

/** Why sipp cannot run here, or undefined when it can. */
export function sippMissingReason(): string | undefined {
  const result = spawnSync(SIPP_BIN, ['-v'], { encoding: 'utf8', timeout: 5_000 });
  if (result.error) return `no sipp (${SIPP_BIN}): install Debian's sip-tester or set SIPP_BIN`;
  return undefined;
}

/** Runs sipp to the end and collects what it saw. */
export async function runSipp(options: SippOptions): Promise<SippResult> {
  const dir = await tempDir('sipp');
  const port = options.port ?? (await freeTcpUdpPort());
  const timeout = options.timeoutSeconds ?? 20;
  const args = [
    ...(options.target !== undefined ? [options.target] : []),
    '-sf',
    options.scenario,
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-m',
    String(options.calls ?? 1),
    '-timeout',
    `${timeout}s`,
    '-timeout_error',
    '-s',
    options.service ?? 'sipp',
    '-t',
    options.transport === 'tcp' ? 't1' : 'u1',
    '-nostdin',
    '-trace_msg',
    '-message_file',
    join(dir.path, 'messages.log'),
    '-trace_err',
    '-error_file',
    join(dir.path, 'errors.log'),
    ...Object.entries(options.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
    ...(options.args ?? []),
  ];
  let stderr = '';
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = spawn(SIPP_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (timeout + 10) * 1000);
    child.once('error', (error) => {
      stderr += `\n[spawn error] ${error.message}`;
      clearTimeout(killer);
      resolve(null);
    });
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve(code);
    });
  });
  const read = async (name: string) => readFile(join(dir.path, name), 'utf8').catch(() => '');
  const result = { exitCode, messages: await read('messages.log'), errors: `${stderr}${await read('errors.log')}`, port };
  await dir.remove();
  return result;
}
