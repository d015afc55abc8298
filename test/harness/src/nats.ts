/**
 * A real nats-server with JetStream (Debian package `nats-server`) on a free loopback port, with
 * the platform's authentication and authorisation on, as in production: an nkey per identity and
 * the permissions generated from the table in packages/contracts (permissions.ts). Services
 * started with `startService` connect as themselves; a test connects as `admin` (sees everything)
 * or as any identity it wants to hold to that identity's permissions.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as natsConnect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { nkeyAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { inboxPrefix, NATS_IDENTITIES, readSeed, seedFile, writeNatsAuth, type NatsIdentity } from '@sipvm/contracts';
import { startRestartable } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The nkey seed file of an identity (a service's NATS_NKEY_FILE). */
  seedFile(identity: NatsIdentity): string;
  /** A client connected as `identity` (default `admin`, which may do anything). */
  connect(options?: Partial<NodeConnectionOptions> & { identity?: NatsIdentity }): Promise<NatsConnection>;
  /** The permission violations the server reported so far (its log lines). */
  violations(): string[];
  /** Everything the server printed. */
  output(): string;
  /** Stops the server, keeping its JetStream store, so `start()` brings the same state back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its store. */
  close(): Promise<void>;
}

export interface NatsOptions {
  /**
   * A test that tries what the permissions forbid says so; otherwise `close()` fails when any
   * client was refused a subject, because then the permission table misses a rule.
   */
  expectViolations?: boolean;
  /** TLS on the client port, with these PEM files (the server's certificate and key). */
  tls?: { certFile: string; keyFile: string; caFile?: string; verifyClients?: boolean };
}

export const NATS_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** Servers started here, by URL: `startService` gives a service its own identity on them. */
const credentialsByUrl = new Map<string, string>();

/** The nkey seed file for `identity` on the harness server at `url`, if it is one. */
export function harnessSeedFile(url: string, identity: NatsIdentity): string | undefined {
  const dir = credentialsByUrl.get(url);
  return dir === undefined ? undefined : seedFile(dir, identity);
}

const isViolation = (line: string) => / - (Publish|Subscription) Violation - /.test(line);

export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const dir = await tempDir('nats');
  const credentials = join(dir.path, 'auth');
  writeNatsAuth({ configDir: credentials, identities: NATS_IDENTITIES });
  const tls = options.tls;
  const config = join(dir.path, 'nats.conf');
  await writeFile(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir.path, 'store'))} }`,
      ...(tls
        ? [`tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${JSON.stringify(tls.keyFile)}${tls.caFile ? `, ca_file: ${JSON.stringify(tls.caFile)}` : ''}${tls.verifyClients ? ', verify: true' : ''} }`]
        : []),
      'include ./auth/permissions.conf',
      '',
    ].join('\n'),
  );
  const server = await startRestartable(
    {
      name: 'nats-server',
      command: NATS_BIN,
      args: ['-c', config],
      ready: (output) => output().includes('Server is ready'),
    },
    dir,
  );
  const url = `${tls ? 'tls' : 'nats'}://127.0.0.1:${port}`;
  credentialsByUrl.set(url, credentials);
  return {
    url,
    port,
    seedFile: (identity) => seedFile(credentials, identity),
    connect: ({ identity = 'admin', ...more } = {}) =>
      natsConnect({
        servers: url,
        authenticator: nkeyAuthenticator(readSeed(seedFile(credentials, identity))),
        inboxPrefix: inboxPrefix(identity),
        ...more,
      }),
    violations: () => server.output().split('\n').filter(isViolation),
    output: server.output,
    start: server.start,
    stop: server.stop,
    async close() {
      credentialsByUrl.delete(url);
      const refused = server.output().split('\n').filter(isViolation);
      await server.close();
      if (refused.length > 0 && !options.expectViolations) {
        throw new Error(`NATS refused clients subjects the platform uses (add rules to packages/contracts/src/permissions.ts):\n${refused.join('\n')}`);
      }
    },
  };
}
