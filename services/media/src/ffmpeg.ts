/** Debian's ffmpeg as a decoder: bytes in on stdin, bytes out on stdout. */
import { spawn } from 'node:child_process';
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

/** Decodes a container or raw stream that ffmpeg knows into 8 kHz mono 16-bit PCM. */
export function decodeToPcm(format: string, input: Buffer): Promise<Buffer> {
  return runFilter(['-hide_banner', '-loglevel', 'error', '-f', format, '-i', 'pipe:0', '-ar', '8000', '-ac', '1', '-f', 's16le', 'pipe:1'], input);
}
