/**
 * Kamailio (Debian `kamailio`) as the SIP proxy in front of sipvm nodes, running the project's own
 * configuration (deploy/kamailio/kamailio.cfg) with its settings given as defines: the nodes'
 * dispatcher list and the voicemail profiles (a db_text table) written into a folder of the test,
 * on a loopback address and port of its own, with its RPC socket there too (kamcmd).
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeTcpUdpPort } from './ports.js';
import { startRestartable } from './process.js';
import { REPO_ROOT } from './service.js';
import { tempDir } from './tmp.js';

export const KAMAILIO_BIN = process.env.KAMAILIO_BIN ?? 'kamailio';
export const KAMCMD_BIN = process.env.KAMCMD_BIN ?? 'kamcmd';
export const KAMAILIO_CONFIG = join(REPO_ROOT, 'deploy', 'kamailio', 'kamailio.cfg');

/** A row of the proxy's voicemail_profile table: what it puts into P-App-Param. */
export interface VoicemailProfile {
  username: string;
  domain: string;
  uid?: string;
  did?: string;
  email?: string;
  mode?: string;
  lang?: string;
  pin?: string;
}

export interface KamailioOptions {
  /** Its loopback address, e.g. 127.0.1.10. */
  host: string;
  /** Its UDP port, when the nodes must know it before it starts (their MWI_PROXY); default a free one. */
  port?: number;
  /** The sipvm nodes (dispatcher set 1): their SIP addresses host:port, `;transport=tls` for TLS. */
  nodes: string[];
  /** More nodes, listed disabled (`kamcmd dispatcher.set_state a …` enables one). */
  disabledNodes?: string[];
  /** SIP over TLS (the configuration's SIPVM_TLS) on a port of its own, with this certificate, key and CA. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  profiles: VoicemailProfile[];
  /** OPTIONS to every node this often; default 1 s. */
  pingIntervalS?: number;
  /** More defines of the configuration (name → value, strings quoted by the caller). */
  defines?: Record<string, string | number>;
}

export interface KamailioProxy {
  readonly host: string;
  readonly port: number;
  /** host:port, where callers send. */
  readonly target: string;
  /** Its SIP over TLS port, when started with `tls`. */
  readonly tlsPort: number | undefined;
  /** Runs a kamcmd RPC command (e.g. `dispatcher.list`) and returns what it printed. */
  rpc(...command: string[]): Promise<string>;
  /** The dispatcher's state of each node, by host:port: `AP` (active), `IP` (inactive, probing), `DX` (disabled), … */
  nodeStates(): Promise<Record<string, string>>;
  output(): string;
  pid(): number | undefined;
  stop(): Promise<void>;
  close(): Promise<void>;
}

const execFileAsync = promisify(execFile);

export async function startKamailio(options: KamailioOptions): Promise<KamailioProxy> {
  const dir = await tempDir('kamailio');
  const db = join(dir.path, 'db');
  await mkdir(db);
  await writeFile(join(db, 'version'), 'table_name(str) table_version(int)\nvoicemail_profile:1\n');
  await writeFile(join(db, 'voicemail_profile'), profileTable(options.profiles));
  const list = join(dir.path, 'dispatcher.list');
  // Flag 4: disabled (neither probed nor chosen).
  const entries = [...options.nodes.map((node) => `1 sip:${node} 0 0\n`), ...(options.disabledNodes ?? []).map((node) => `1 sip:${node} 4 0\n`)];
  await writeFile(list, entries.join(''));
  const port = options.port ?? (await freeTcpUdpPort(options.host));
  const tlsPort = options.tls ? await freeTcpUdpPort(options.host) : undefined;
  const ctl = `unix:${join(dir.path, 'ctl')}`;
  const defines: Record<string, string | number> = {
    SIPVM_DISPATCHER_LIST: `"${list}"`,
    SIPVM_PROFILES_DB: `"profiles=>text://${db}"`,
    SIPVM_CTL_SOCKET: `"${ctl}"`,
    SIPVM_PING_INTERVAL_S: options.pingIntervalS ?? 1,
    // The tests' callers all send from 127.0.0.1, at up to 40 calls a second (the cluster benchmark).
    SIPVM_FLOOD_REQUESTS: 600,
    ...(options.tls
      ? {
          SIPVM_TLS: 1,
          SIPVM_TCP_SOURCE: options.host,
          SIPVM_TLS_CERT: `"${options.tls.certFile}"`,
          SIPVM_TLS_KEY: `"${options.tls.keyFile}"`,
          SIPVM_TLS_CA: `"${options.tls.caFile}"`,
        }
      : {}),
    ...options.defines,
  };
  const server = await startRestartable(
    {
      name: 'kamailio',
      command: KAMAILIO_BIN,
      args: [
        '-f',
        KAMAILIO_CONFIG,
        '-DD',
        '-E',
        '-l',
        `udp:${options.host}:${port}`,
        ...(tlsPort === undefined ? [] : ['-l', `tls:${options.host}:${tlsPort}`]),
        '-Y',
        dir.path,
        '-P',
        join(dir.path, 'kamailio.pid'),
        '-m',
        '64',
        '-M',
        '8',
        ...Object.entries(defines).flatMap(([name, value]) => ['-A', `${name}=${value}`]),
      ],
      ready: async () => (await sipOptions(options.host, port, 300)) === 200,
      timeoutMs: 15_000,
    },
    dir,
  );
  const rpc = async (...command: string[]) => (await execFileAsync(KAMCMD_BIN, ['-s', ctl, ...command], { timeout: 5_000 })).stdout;
  return {
    host: options.host,
    port,
    target: `${options.host}:${port}`,
    tlsPort,
    rpc,
    async nodeStates() {
      const text = await rpc('dispatcher.list');
      const states: Record<string, string> = {};
      for (const match of text.matchAll(/URI:\s*sip:(\S+)\s+FLAGS:\s*(\S+)/g)) states[match[1] ?? ''] = match[2] ?? '';
      return states;
    },
    output: server.output,
    pid: server.pid,
    stop: server.stop,
    close: server.close,
  };
}

/** The db_text table: a header line, then one row per profile, fields separated by `:`. */
function profileTable(profiles: VoicemailProfile[]): string {
  const columns = ['username', 'domain', 'uid', 'did', 'email', 'mode', 'lang', 'pin'] as const;
  const header = 'username(str) domain(str) uid(str,null) did(str,null) email(str,null) mode(str,null) lang(str,null) pin(str,null)';
  const field = (value: string | undefined) => (value ?? '').replace(/[\\:\n\r\t]/g, (c) => `\\${c === '\n' ? 'n' : c === '\r' ? 'r' : c === '\t' ? 't' : c}`);
  return [header, ...profiles.map((p) => columns.map((c) => field(p[c])).join(':'))].join('\n') + '\n';
}

/**
 * Sends one OPTIONS over UDP to host:port and returns the status code of the answer, or undefined
 * when none came within `timeoutMs`: what a proxy's health check sees.
 */
export async function sipOptions(host: string, port: number, timeoutMs = 1_000, user?: string): Promise<number | undefined> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const local = socket.address().port;
    const tag = randomBytes(6).toString('hex');
    const target = `sip:${user ? `${user}@` : ''}${host}:${port}`;
    const message = [
      `OPTIONS ${target} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${tag}`,
      `From: <sip:probe@127.0.0.1>;tag=${tag}`,
      `To: <${target}>`,
      `Call-ID: ${tag}@probe`,
      'CSeq: 1 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.on('message', (data) => {
        const status = /^SIP\/2\.0 (\d{3})/.exec(data.toString())?.[1];
        if (status === undefined || status.startsWith('1')) return;
        clearTimeout(timer);
        resolve(Number(status));
      });
      socket.send(message, port, host);
    });
  } catch {
    return undefined;
  } finally {
    socket.close();
  }
}

/** Whether Kamailio is installed here (`scripts/setup.sh` installs Debian's `kamailio`). */
export async function kamailioMissingReason(): Promise<string | undefined> {
  try {
    await execFileAsync(KAMAILIO_BIN, ['-v'], { timeout: 5_000 });
    return undefined;
  } catch {
    return `no kamailio (${KAMAILIO_BIN}): install Debian's kamailio (scripts/setup.sh does)`;
  }
}
