/**
 * The offline engine: Debian's pocketsphinx (0.8+5prealpha) with its English model
 * (pocketsphinx-en-us), as child processes at a low priority (`nice`), so the call path always
 * goes first. The model is for 16 kHz speech: sox resamples the message first (telephone audio
 * holds nothing above 4 kHz, which the model tolerates better than a changed filter bank).
 * pocketsphinx_batch with its model's own settings (cepstral mean over the whole message) hears
 * whole telephone messages far better than pocketsphinx_continuous, whose running mean starts
 * from a guess; BENCHMARKS.md has what it gets right.
 */
import { spawn } from 'node:child_process';
import { access, constants, readFile, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { EngineError, type HearRequest, type TranscriptionEngine } from './engine.js';

export interface PocketsphinxOptions {
  /** pocketsphinx_batch */
  bin: string;
  sox: string;
  /** A folder with `en-us/` (the acoustic model), `en-us.lm.bin` and `cmudict-en-us.dict`, as Debian installs it. */
  modelDir: string;
  /** Niceness of both processes (0: as the service). */
  nice: number;
}

/** The files of the model folder, as Debian's pocketsphinx-en-us lays them out. */
export const modelFiles = (dir: string) => ({
  hmm: join(dir, 'en-us'),
  lm: join(dir, 'en-us.lm.bin'),
  dict: join(dir, 'cmudict-en-us.dict'),
});

export function pocketsphinxEngine(options: PocketsphinxOptions): TranscriptionEngine & { problems(): Promise<string[]> } {
  const model = modelFiles(options.modelDir);
  return {
    name: 'pocketsphinx',
    languages: ['en'],

    async hear({ wavFile, workDir, signal }: HearRequest): Promise<string> {
      const raw = join(workDir, 'message.raw');
      // -R: sox's dither (a whisper of noise where the recording is digital silence, which pocketsphinx
      // hears better) from a fixed seed, so the same message is always heard the same way.
      await run(options, options.sox, ['-R', wavFile, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', raw], signal);
      // The control file names the utterance: <cepdir>/<name><cepext> is its audio.
      await writeFile(join(workDir, 'ctl'), 'message\n');
      const hypFile = join(workDir, 'hyp');
      const logFile = join(workDir, 'log');
      await run(
        options,
        options.bin,
        [
          '-adcin',
          'yes',
          '-cepdir',
          workDir,
          '-cepext',
          '.raw',
          '-ctl',
          join(workDir, 'ctl'),
          '-hyp',
          hypFile,
          '-hmm',
          model.hmm,
          '-lm',
          model.lm,
          '-dict',
          model.dict,
          '-logfn',
          logFile,
        ],
        signal,
        logFile,
      );
      // One line per utterance: `<words> (<utterance id> <score>)`; none when it could not decode.
      const line = (await readFile(hypFile, 'utf8').catch(() => '')).split('\n')[0] ?? '';
      const words = /^(.*) \(message -?\d+\)$/.exec(line);
      if (!words) throw new EngineError(`pocketsphinx decoded nothing${await logTail(logFile)}`);
      return words[1] ?? '';
    },

    /** What is missing for the engine to work here. */
    async problems(): Promise<string[]> {
      const missing: string[] = [];
      for (const [command, debian] of [[options.bin, 'pocketsphinx'], [options.sox, 'sox'], ...(options.nice > 0 ? [['nice', 'coreutils']] : [])] as const) {
        if (!(await executable(command))) missing.push(`${command} is not installed (Debian package ${debian})`);
      }
      for (const file of [model.hmm, model.lm, model.dict]) {
        await access(file).catch(() => missing.push(`${file} is missing (Debian package pocketsphinx-en-us)`));
      }
      return missing;
    },
  };
}

/** Runs a program at the configured niceness; its failure (or an abort: SIGKILL) is an EngineError. */
function run(options: PocketsphinxOptions, command: string, args: string[], signal: AbortSignal, logFile?: string): Promise<void> {
  const [file, argv] = options.nice > 0 ? ['nice', ['-n', String(options.nice), command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv as string[], { stdio: ['ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-2000)));
    child.once('error', (error) => {
      if (signal.aborted) reject(signal.reason instanceof Error ? signal.reason : new EngineError('aborted'));
      else reject(new EngineError(`cannot run ${command}: ${error.message}`));
    });
    child.once('close', (code) => {
      if (code === 0) return resolve();
      void (async () => {
        const detail = logFile ? await logTail(logFile) : err ? `: ${err.trim().split('\n').slice(-2).join(' | ')}` : '';
        reject(new EngineError(`${command} failed (exit ${code})${detail}`));
      })();
    });
  });
}

/** The errors pocketsphinx logged (its log says far more than that, at every start). */
async function logTail(logFile: string): Promise<string> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const errors = log
    .split('\n')
    .filter((line) => line.startsWith('ERROR'))
    .slice(-2);
  return errors.length > 0 ? `: ${errors.join(' | ')}` : '';
}

/** Whether `command` (a path, or a name looked up on PATH) can be run. */
async function executable(command: string): Promise<boolean> {
  const candidates =
    isAbsolute(command) || command.includes('/')
      ? [command]
      : (process.env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}
