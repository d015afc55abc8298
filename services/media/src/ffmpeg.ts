/** Debian's ffmpeg as a decoder: bytes in on stdin, bytes out on stdout. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ServiceError } from '@sipvm/contracts';

export const FFMPEG = process.env.FFMPEG_BIN ?? 'ffmpeg';

export function runFilter(args: string[], input: Buffer, command = FFMPEG): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-2000)));
    child.once('error', (error) => reject(new ServiceError('internal', `cannot run ${command}: ${error.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new ServiceError('internal', `${command} failed (${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
    child.stdin.on('error', () => undefined); // an early exit is reported by `close`
    child.stdin.end(input);
  });
}

/**
 * Decodes a stream that ffmpeg knows (`format`) into a file of 8 kHz mono 16-bit PCM, feeding it
 * as the stream yields (ffmpeg's pace: what it has not read yet waits here, not in memory).
 */
export async function decodeStreamToFile(format: string, input: AsyncIterable<Uint8Array>, file: string): Promise<void> {
  const child = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-f', format, '-i', 'pipe:0', '-ar', '8000', '-ac', '1', '-f', 's16le', '-y', file], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (error) => reject(new ServiceError('internal', `cannot run ${FFMPEG}: ${error.message}`)));
    child.once('close', resolve);
  });
  child.stdin.on('error', () => undefined); // an early exit is reported by `close`
  let gone = false;
  void exited.finally(() => (gone = true)).catch(() => undefined);
  try {
    for await (const chunk of input) {
      if (gone) break;
      // Wait while ffmpeg has not taken what was written; an ffmpeg that exits takes nothing more.
      if (!child.stdin.write(chunk)) await Promise.race([once(child.stdin, 'drain'), exited.catch(() => undefined)]);
    }
  } finally {
    child.stdin.end();
  }
  const code = await exited;
  if (code !== 0) throw new ServiceError('internal', `${FFMPEG} failed (${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
}
