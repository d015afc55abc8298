/** ffmpeg for the test endpoint: G.722 and Opus encoding/decoding (Debian's ffmpeg, on PATH). */
import { spawn } from 'node:child_process';

export function ffmpeg(args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.FFMPEG_BIN ?? 'ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg ${args.join(' ')} failed: ${err}`))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Packets of an Ogg stream (headers included), reassembled from the lacing values. */
export function oggPackets(ogg: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let offset = 0;
  while (offset + 27 <= ogg.length && ogg.toString('ascii', offset, offset + 4) === 'OggS') {
    const count = ogg[offset + 26]!;
    const lacing = ogg.subarray(offset + 27, offset + 27 + count);
    let body = offset + 27 + count;
    for (const size of lacing) {
      partial.push(ogg.subarray(body, body + size));
      body += size;
      if (size < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    offset = body;
  }
  return packets;
}
