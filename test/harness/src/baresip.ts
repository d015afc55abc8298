/**
 * baresip (Debian `baresip-core`), a real softphone, headless: a configuration folder of its own
 * per phone (no sound card: what it says comes from a WAV file through the `aufile` module, what
 * it hears goes nowhere), driven over its `ctrl_tcp` JSON interface (dial, hang up, send digits as
 * RFC 4733 events), its events (call established, closed, MWI NOTIFY) collected. It talks SIP on a
 * loopback address of its own, through an outbound proxy.
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, freeTcpUdpPort } from './ports.js';
import { startProcess, waitFor, type Started } from './process.js';
import { tempDir } from './tmp.js';

export const BARESIP_BIN = process.env.BARESIP_BIN ?? 'baresip';
const MODULES = '/usr/lib/baresip/modules';

export interface BaresipOptions {
  /** Its loopback address (SIP and RTP), e.g. 127.0.4.1. */
  host: string;
  /** Address of record, e.g. sip:alice@example.org. */
  aor: string;
  /** The outbound proxy, host:port (every request goes there, as a phone behind its proxy). */
  proxy: string;
  /** Offered in this order, as baresip names them: `opus/48000/2`, `G722`, `PCMA`, `PCMU`. */
  codecs: string[];
  /** What the phone says in a call: a 16-bit mono WAV at 8 kHz (resampled to the codec's rate). */
  audioFile: string;
  /** REGISTER (and so SUBSCRIBE to message-summary: baresip's mwi module); default false. */
  register?: boolean;
  /** Display name in From. */
  displayName?: string;
}

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  id?: string;
  [key: string]: unknown;
}

export interface Baresip {
  readonly host: string;
  readonly events: BaresipEvent[];
  /** Runs a command (as typed after `/`: `dial sip:…`, `hangup`, `sndcode 1234#`); resolves with its answer. */
  command(line: string): Promise<{ ok: boolean; data: string }>;
  /** Waits for an event; on timeout the error carries the phone's output. */
  waitForEvent(predicate: (event: BaresipEvent) => boolean, what: string, timeoutMs?: number): Promise<BaresipEvent>;
  output(): string;
  close(): Promise<void>;
}

const execFileAsync = promisify(execFile);

/** Whether baresip is installed here (`scripts/setup.sh` installs Debian's `baresip-core`). */
export async function baresipMissingReason(): Promise<string | undefined> {
  try {
    // It prints its usage and exits non-zero for -h; that it runs at all is the point.
    await execFileAsync(BARESIP_BIN, ['-h'], { timeout: 5_000 }).catch((error: { stdout?: string }) => {
      if (!String(error.stdout ?? '').includes('baresip')) throw error;
    });
    return undefined;
  } catch {
    return `no baresip (${BARESIP_BIN}): install Debian's baresip-core (scripts/setup.sh does)`;
  }
}

export async function startBaresip(options: BaresipOptions): Promise<Baresip> {
  const dir = await tempDir('baresip');
  const sipPort = await freeTcpUdpPort(options.host);
  const controlPort = await freePort();
  const rtpBase = 20_000 + Math.floor(Math.random() * 2_000) * 10;
  await writeFile(
    join(dir.path, 'config'),
    [
      'poll_method epoll',
      `sip_listen ${options.host}:${sipPort}`,
      `net_interface ${options.host}`,
      'call_local_timeout 60',
      'call_max_calls 2',
      // No sound card: the source is the file; nothing plays what arrives.
      'audio_player aufile,none',
      'audio_alert aufile,none',
      `audio_source aufile,${options.audioFile}`,
      'ausrc_srate 8000',
      'ausrc_channels 1',
      `rtp_ports ${rtpBase}-${rtpBase + 9}`,
      `module_path ${MODULES}`,
      'module g711.so',
      'module g722.so',
      'module opus.so',
      'module aufile.so',
      'module_tmp account.so',
      'module_app menu.so',
      'module_app mwi.so',
      'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${controlPort}`,
      '',
    ].join('\n'),
  );
  const name = options.displayName ? `"${options.displayName}" ` : '';
  const params = [
    `outbound="sip:${options.proxy}"`,
    `regint=${options.register ? 600 : 0}`,
    `mwi=${options.register ? 'yes' : 'no'}`,
    `audio_codecs=${options.codecs.join(',')}`,
    'answermode=manual',
  ];
  // The account comes once baresip runs (`uanew` below): Debian's baresip 1.0 subscribes for MWI
  // in an endless loop when a registration succeeds before its mwi module's first timer fires
  // (modules/mwi/mwi.c: its timer re-subscribes every entry of the list it appends to), which a
  // registrar on loopback always does.
  await writeFile(join(dir.path, 'accounts'), '');
  await writeFile(join(dir.path, 'contacts'), '');

  let phone: Started | undefined;
  let socket: Socket | undefined;
  try {
    // -s: the SIP trace goes to the output, for failure reports.
    phone = await startProcess({
      name: `baresip ${options.aor}`,
      command: BARESIP_BIN,
      args: ['-f', dir.path, '-s'],
      ready: (output) => output().includes('baresip is ready'),
      timeoutMs: 15_000,
    });
    socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(controlPort, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  } catch (error) {
    await phone?.stop();
    await dir.remove();
    throw error;
  }
  const events: BaresipEvent[] = [];
  const pending = new Map<string, (answer: { ok: boolean; data: string }) => void>();
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    // Netstrings: <length>:<JSON>,
    for (;;) {
      const colon = buffer.indexOf(0x3a);
      if (colon === -1) return;
      const length = Number(buffer.subarray(0, colon).toString());
      if (buffer.length < colon + 1 + length + 1) return;
      const text = buffer.subarray(colon + 1, colon + 1 + length).toString();
      buffer = buffer.subarray(colon + 1 + length + 1);
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (message.event === true) events.push(message as BaresipEvent);
      else if (message.response === true && typeof message.token === 'string') {
        pending.get(message.token)?.({ ok: message.ok === true, data: String(message.data ?? '') });
        pending.delete(message.token);
      }
    }
  });
  let tokens = 0;
  const output = () => phone?.output() ?? '';
  const baresip: Baresip = {
    host: options.host,
    events,
    command(line) {
      const [command, ...rest] = line.split(' ');
      const token = String(++tokens);
      const json = JSON.stringify({ command, params: rest.join(' '), token });
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`baresip did not answer "${line}"\n${output().slice(-3000)}`)), 5_000);
        pending.set(token, (answer) => {
          clearTimeout(timer);
          resolve(answer);
        });
        socket!.write(`${Buffer.byteLength(json)}:${json},`);
      });
    },
    async waitForEvent(predicate, what, timeoutMs = 20_000) {
      try {
        await waitFor(() => events.some(predicate), timeoutMs, what);
      } catch (error) {
        throw new Error(`${(error as Error).message}\nevents: ${events.map((e) => e.type).join(', ')}\n--- baresip ---\n${output().slice(-6000)}`);
      }
      return events.find(predicate)!;
    },
    output,
    async close() {
      socket!.destroy();
      await phone!.stop();
      await dir.remove();
    },
  };
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const added = await baresip.command(`uanew ${name}<${options.aor}>;${params.join(';')}`);
    if (!added.ok) throw new Error(`baresip refused the account: ${added.data}`);
    if (options.register) await baresip.waitForEvent((e) => e.type === 'REGISTER_OK', 'the phone to register', 10_000);
  } catch (error) {
    await baresip.close();
    throw error;
  }
  return baresip;
}
