/**
 * A SEMS msg_storage folder built as SEMS writes one, for the importer's tests: file names, folders
 * and times by SEMS's own rules (apps/voicemail/AnswerMachine.cpp saveBox, apps/msg_storage/
 * MsgStorage.cpp msg_new and msg_markread, apps/annrecorder/AnnRecorder.cpp).
 */
import { spawn } from 'node:child_process';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsServer } from './nats.js';
import { REPO_ROOT } from './service.js';
import { linearToAlaw } from './rtp/g711.js';

export interface SemsMessageFixture {
  /** The did (or dom) SEMS stored under, and the uid (or usr). */
  domain: string;
  user: string;
  /** voicemail's `ts`: the Unix time the call started. */
  ts: number;
  /** `snd`, or the whole From header as SEMS had it. */
  sender: string;
  audio: Uint8Array;
  /** Heard in SEMS's voicebox (msg_markread). */
  saved: boolean;
  /** rec_file_ext; default wav. */
  extension?: string;
}

/**
 * `<domain>/<user>/<ts>+<sender>.<ext>`, written a few seconds after the call started (when the
 * caller hung up); a saved one has its access time one second after its modification time, as
 * msg_markread leaves it, a new one both times equal, as a freshly written file has them.
 */
export async function writeSemsMessage(root: string, message: SemsMessageFixture): Promise<string> {
  const dir = join(root, message.domain, message.user);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${message.ts}+${message.sender}.${message.extension ?? 'wav'}`);
  await writeFile(path, message.audio);
  const written = message.ts + 20;
  await utimes(path, message.saved ? written + 1 : written, written);
  return path;
}

/** annrecorder's greeting: `<domain>-prompts/<user>/<type>.wav` in msg_storage. */
export async function writeSemsGreeting(root: string, greeting: { domain: string; user: string; type: string; audio: Uint8Array }): Promise<string> {
  const dir = join(root, `${greeting.domain}-prompts`, greeting.user);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${greeting.type}.wav`);
  await writeFile(path, greeting.audio);
  return path;
}

/**
 * A WAV as SEMS writes it with the A-law subtype (wav plug-in WAV_ALAW, wav_hdr.c): format 6,
 * 8 kHz, one byte per sample, from the samples of a platform WAV (44-byte header).
 */
export function alawWav(pcmWav: Uint8Array): Buffer {
  const pcm = Buffer.from(pcmWav).subarray(44);
  const data = Buffer.alloc(pcm.length / 2);
  for (let i = 0; i < data.length; i++) data[i] = linearToAlaw(pcm.readInt16LE(i * 2));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(6, 20); // A-law
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/**
 * A mail template in SEMS's format, its header lines as SEMS's default.template.sample has them
 * (no space after some colons, two headers on one `header:` line joined by `\n`), a short body.
 */
export const SEMS_TEMPLATE_SAMPLE = `subject: Voice message from: %from%
from:voicemail@%domain%
to:%email%
header:X-Content: Voicemail\\nX-Voicemail-Sender: %from%

Hello %user%@%domain%,

%from% left a voice message for you.

The message is %vmsg_length%s long.
`;

export interface ImporterRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Both, for failure messages. */
  output: string;
}

/** The SEMS importer as an operator runs it (`npm run import:sems`: its compiled main.js), as admin on `nats`. */
export async function runSemsImport(nats: Pick<NatsServer, 'url' | 'seedFile'>, args: string[]): Promise<ImporterRun> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'services', 'storage', 'dist', 'sems-import', 'main.js'), ...args], {
    env: { ...process.env, NATS_URL: nats.url, NATS_NKEY_FILE: nats.seedFile('admin') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr, output: `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}
