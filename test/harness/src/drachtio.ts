/**
 * A real drachtio-server on loopback, on free ports, with its own temporary config file (it
 * refuses to start without one). Found through DRACHTIO_BIN, else on PATH; `drachtioBinary()`
 * tells whether there is one, so end-to-end tests can skip loudly where there is none.
 */
import { writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { isExecutable, startRestartable } from './process.js';
import { canConnect, freePort, freeTcpUdpPort } from './ports.js';
import { tempDir } from './tmp.js';

/** The drachtio binary to use, or undefined when there is none (DRACHTIO_BIN, else PATH). */
export function drachtioBinary(): string | undefined {
  const explicit = process.env.DRACHTIO_BIN;
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'drachtio');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Why end-to-end SIP tests cannot run here, or undefined when they can. */
export function drachtioMissingReason(): string | undefined {
  if (drachtioBinary() !== undefined) return undefined;
  return process.env.DRACHTIO_BIN
    ? `DRACHTIO_BIN=${process.env.DRACHTIO_BIN} is not an executable file`
    : 'no drachtio-server binary: set DRACHTIO_BIN or put drachtio on PATH (see DEVELOPERS.md)';
}

export interface DrachtioServer {
  /** The loopback address it listens on (SIP and admin). */
  readonly host: string;
  /** SIP port (UDP and TCP) on that address. */
  readonly sipPort: number;
  /** SIP over TLS port on that address, when started with `tls`. */
  readonly tlsPort: number | undefined;
  /** Where drachtio-srf connects: host, port, secret. */
  readonly admin: { host: string; port: number; secret: string };
  output(): string;
  /** Whether it runs now. */
  alive(): boolean;
  /** Stops it, keeping ports and config, so `start()` brings the same server back. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  start(): Promise<void>;
  pid(): number | undefined;
  /** Stops it for good and removes its config. */
  close(): Promise<void>;
}

export interface DrachtioOptions {
  secret?: string;
  /** notice and above: as in production, no SIP message in the log. */
  logLevel?: 'info' | 'debug' | 'notice' | 'warning' | 'error';
  /** A loopback address of its own (a node of a cluster test, e.g. 127.0.1.1); default 127.0.0.1. */
  host?: string;
  /** SIP over TLS too (`sips:host:port;transport=tls`), with this certificate, key and CA chain. */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

/**
 * Its ports are free when chosen, but another process (a test file running beside this one, any
 * outgoing socket given an ephemeral port) may bind one before drachtio-server does; it then exits
 * with "Address already in use", and is started again on other ports.
 */
export async function startDrachtio(options: DrachtioOptions = {}): Promise<DrachtioServer> {
  const bin = drachtioBinary();
  if (bin === undefined) throw new Error(drachtioMissingReason());
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDrachtioOnFreePorts(bin, options);
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

const PORT_ATTEMPTS = 3;

async function startDrachtioOnFreePorts(bin: string, options: DrachtioOptions): Promise<DrachtioServer> {
  const host = options.host ?? '127.0.0.1';
  const dir = await tempDir('drachtio');
  const sipPort = await freeTcpUdpPort(host);
  const adminPort = await freePort(host);
  const tlsPort = options.tls ? await freePort(host) : undefined;
  // drachtio-server takes TLS only as a sips: contact.
  const tlsArgs = options.tls
    ? [
        '--contact',
        `sips:${host}:${tlsPort};transport=tls`,
        '--key-file',
        options.tls.keyFile,
        '--cert-file',
        options.tls.certFile,
        '--chain-file',
        options.tls.caFile,
      ]
    : [];
  const secret = options.secret ?? 'sipvm-test';
  // notice and above: as in production, no SIP message in the log (sofia-sip silent too).
  const quiet = !['info', 'debug', undefined].includes(options.logLevel);
  const config = join(dir.path, 'drachtio.conf.xml');
  await writeFile(
    config,
    `<drachtio>
  <admin port="${adminPort}" secret="${secret}">${host}</admin>
  <sip><contacts><contact>sip:${host}:${sipPort};transport=udp,tcp</contact></contacts></sip>
  <cdrs>false</cdrs>
  <logging><console/><sofia-loglevel>${quiet ? 0 : 3}</sofia-loglevel><loglevel>${options.logLevel ?? 'info'}</loglevel></logging>
</drachtio>
`,
  );
  const server = await startRestartable(
    {
      name: 'drachtio',
      command: bin,
      args: [
        '-f',
        config,
        '--contact',
        `sip:${host}:${sipPort};transport=udp,tcp`,
        ...tlsArgs,
        '--address',
        host,
        '--port',
        String(adminPort),
        '--secret',
        secret,
        '--loglevel',
        options.logLevel ?? 'info',
        // As in production (deploy/drachtio/entrypoint.sh): with NAT detection, this drachtio-server
        // dies answering an INVITE whose Contact has no host.
        '--disable-nat-detection',
        '--stdout',
      ],
      ready: async () =>
        (await canConnect(adminPort, host)) && (await canConnect(sipPort, host)) && (tlsPort === undefined || (await canConnect(tlsPort, host))),
      timeoutMs: 15_000,
    },
    dir,
  ).catch(async (error: unknown) => {
    await dir.remove();
    throw error;
  });
  return {
    host,
    sipPort,
    tlsPort,
    admin: { host, port: adminPort, secret },
    output: server.output,
    alive: server.alive,
    start: server.start,
    stop: server.stop,
    kill: server.kill,
    pid: server.pid,
    close: server.close,
  };
}
