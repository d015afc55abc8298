/**
 * Child processes for tests: started with a readiness condition, their output kept for failure
 * reports, and always stopped (SIGTERM, then SIGKILL) — also when the test process exits early.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export interface Started {
  readonly name: string;
  readonly pid: number;
  /** Everything the process printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** Resolves when the process has exited (by itself or stopped). */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILL, no goodbye: for crash tests. */
  kill(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves when the process is ready; may look at the output so far. */
  ready: (output: () => string) => boolean | Promise<boolean>;
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startProcess(options: StartOptions): Promise<Started> {
  const child = spawn(options.command, options.args ?? [], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let log = '';
  const append = (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > 2_000_000) log = log.slice(-1_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once('error', (error) => {
      append(Buffer.from(`\n[spawn error] ${error.message}\n`));
      running.delete(child);
      resolve(null);
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));

  const output = () => log;
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (gone) throw new Error(`${options.name} exited before it was ready:\n${tail(log)}`);
    if (await options.ready(output)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} was not ready within ${options.timeoutMs ?? 15_000} ms:\n${tail(log)}`);
    }
    await sleep(50);
  }

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (gone) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    name: options.name,
    pid: child.pid ?? -1,
    output,
    exited,
    stop,
    kill: () => stop('SIGKILL'),
  };
}

export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is true or the time is up. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Whether the path is a file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A server a test can take away and bring back with the same options (an outage), then close for good. */
export interface Restartable {
  /** Everything it printed, across restarts. */
  output(): string;
  /** Whether it runs now (started and not exited). */
  alive(): boolean;
  /** Stops it, keeping its folder (its data survives), so `start()` brings the same server back. */
  stop(): Promise<void>;
  /** The same with SIGKILL, no goodbye (a crash). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Its process id while it runs. */
  pid(): number | undefined;
  /** Stops it for good and removes its folder. */
  close(): Promise<void>;
}

export async function startRestartable(options: StartOptions, folder: { remove(): Promise<void> }): Promise<Restartable> {
  let proc: Started | undefined;
  let previous = '';
  let exited = false;
  const start = async () => {
    proc = await startProcess(options);
    exited = false;
    const started = proc;
    void started.exited.then(() => {
      if (proc === started) exited = true;
    });
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    previous += proc?.output() ?? '';
    await proc?.stop(signal);
    proc = undefined;
  };
  await start();
  return {
    output: () => previous + (proc?.output() ?? ''),
    alive: () => proc !== undefined && !exited,
    start,
    stop: () => stop(),
    kill: () => stop('SIGKILL'),
    pid: () => proc?.pid,
    async close() {
      await stop();
      await folder.remove();
    },
  };
}
