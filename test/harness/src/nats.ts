/**
 * A real nats-server with JetStream (Debian package `nats-server`) on a free loopback port, or a
 * cluster of them, with the platform's authentication and authorisation on, as in production: an
 * nkey per identity and the permissions generated from the table in packages/contracts
 * (permissions.ts). Services started with `startService` connect as themselves; a test connects as
 * `admin` (sees everything) or as any identity it wants to hold to that identity's permissions.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as natsConnect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { nkeyAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { inboxPrefix, NATS_IDENTITIES, readSeed, seedFile, writeNatsAuth, type NatsIdentity } from '@sipvm/contracts';
import { startRestartable, waitFor } from './process.js';
import { freePort } from './ports.js';
import { makeTestPki } from './tls.js';
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
  /** SIGKILL: a crash (its store stays for `start()`). */
  kill(): Promise<void>;
  start(): Promise<void>;
  pid(): number | undefined;
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
  const credentials = writeCredentials(dir.path);
  const tls = options.tls;
  const config = join(dir.path, 'nats.conf');
  await writeFile(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir.path, 'store'))} }`,
      ...(tls
        ? [
            `tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${JSON.stringify(tls.keyFile)}${tls.caFile ? `, ca_file: ${JSON.stringify(tls.caFile)}` : ''}${tls.verifyClients ? ', verify: true' : ''} }`,
          ]
        : []),
      INCLUDE_PERMISSIONS,
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
  const access = clientAccess(url, credentials);
  return {
    url,
    port,
    ...access,
    violations: () => violationsIn([server]),
    output: server.output,
    start: server.start,
    stop: server.stop,
    kill: server.kill,
    pid: server.pid,
    async close() {
      access.forget();
      const refused = violationsIn([server]);
      await server.close();
      failOnViolations(refused, options);
    },
  };
}

/** A server of a cluster. */
export interface ClusteredNatsServer extends NatsServer {
  /** `n1`, `n2`, … (its `server_name`, as JetStream reports leaders). */
  readonly name: string;
  /** Its monitoring endpoint (/varz, /jsz, /routez, /healthz), http://127.0.0.1:port. */
  readonly monitorUrl: string;
  /**
   * What Kubernetes' preStop does before a NATS server is replaced: lame duck mode (SIGUSR2; its
   * clients move to the other servers over lame_duck_duration, 30 s at least), then it exits.
   */
  lameDuck(): Promise<void>;
}

export interface NatsCluster {
  /** Named `n1`, `n2`, … (their `server_name`, as JetStream reports leaders). */
  readonly servers: ClusteredNatsServer[];
  /**
   * How the servers reach each other, as Kubernetes' manifests do it: routes over TLS with
   * certificates of the cluster's CA (verified both ways) and a route user and password.
   */
  readonly routes: {
    readonly urls: string[];
    readonly user: string;
    readonly password: string;
    readonly tls: { certFile: string; keyFile: string; caFile: string };
  };
  /** Every server's URL, comma-separated (NATS_URL of the services). */
  readonly url: string;
  /** The nkey seed file of an identity (a service's NATS_NKEY_FILE). */
  seedFile(identity: NatsIdentity): string;
  /** A client of the whole cluster connected as `identity` (default `admin`). */
  connect(options?: Partial<NodeConnectionOptions> & { identity?: NatsIdentity }): Promise<NatsConnection>;
  /** The permission violations any server reported so far. */
  violations(): string[];
  close(): Promise<void>;
}

/**
 * `size` clustered nats-servers with JetStream on loopback (routes between them, one store each,
 * one set of identities for all), ready once each says its JetStream is healthy (the cluster has
 * a meta leader): streams and KV buckets with up to `size` replicas can be created.
 */
export async function startNatsCluster(size = 3, options: Pick<NatsOptions, 'expectViolations'> = {}): Promise<NatsCluster> {
  const dir = await tempDir('nats-cluster');
  const credentials = writeCredentials(dir.path);
  const pki = makeTestPki(await mkdir(join(dir.path, 'pki'), { recursive: true }).then(() => join(dir.path, 'pki')));
  const routeTls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile };
  const routeUser = 'sipvm-route';
  const routePassword = randomBytes(18).toString('base64url');
  const nodes = await Promise.all(
    Array.from({ length: size }, async (_, i) => ({
      name: `n${i + 1}`,
      port: await freePort(),
      routePort: await freePort(),
      monitorPort: await freePort(),
      store: await tempDir(`nats-n${i + 1}`),
    })),
  );
  const routeUrls = nodes.map((n) => `nats-route://127.0.0.1:${n.routePort}`);
  const routes = routeUrls.map((url) => url.replace('//', `//${routeUser}:${routePassword}@`));
  // As deploy/k8s/nats.yaml: a server joins only with the route password and a certificate of the
  // cluster's CA, and only over TLS.
  const clusterBlock = [
    'cluster {',
    '  name: sipvm-test',
    `  routes: ${JSON.stringify(routes)}`,
    `  authorization { user: ${routeUser}, password: ${JSON.stringify(routePassword)}, timeout: 2 }`,
    `  tls { cert_file: ${JSON.stringify(routeTls.certFile)}, key_file: ${JSON.stringify(routeTls.keyFile)}, ca_file: ${JSON.stringify(routeTls.caFile)}, verify: true, timeout: 2 }`,
  ];
  /** When a server of the cluster was killed (ms since the epoch). */
  const kills: number[] = [];
  const servers = await Promise.all(
    nodes.map(async (node): Promise<ClusteredNatsServer> => {
      // Beside the shared auth/ folder: the include is relative to the configuration file.
      const config = join(dir.path, `${node.name}.conf`);
      await writeFile(
        config,
        [
          `server_name: ${node.name}`,
          `listen: 127.0.0.1:${node.port}`,
          `http: 127.0.0.1:${node.monitorPort}`,
          `jetstream { store_dir: ${JSON.stringify(node.store.path)} }`,
          // The shortest lame duck NATS allows (Kubernetes' preStop), clients moved soon after it begins.
          'lame_duck_duration: 30s',
          'lame_duck_grace_period: 2s',
          // One server alone is no cluster: it would wait for routes to itself forever.
          ...(size > 1 ? [...clusterBlock, `  listen: 127.0.0.1:${node.routePort}`, '}'] : []),
          INCLUDE_PERMISSIONS,
          '',
        ].join('\n'),
      );
      const server = await startRestartable(
        {
          name: `nats-server ${node.name}`,
          command: NATS_BIN,
          args: ['-c', config],
          ready: (output) => output().includes('Server is ready') && jetStreamHealthy(node.monitorPort),
          timeoutMs: 30_000,
        },
        node.store,
      );
      const url = `nats://127.0.0.1:${node.port}`;
      const { forget: _forget, ...access } = clientAccess(url, credentials);
      const kill = async () => {
        kills.push(Date.now());
        await server.kill();
      };
      const lameDuck = async () => {
        const pid = server.pid();
        if (pid === undefined) return;
        // Its clients reconnect elsewhere, and answers to requests they got through it are refused
        // as after a kill (see isReplyAcrossDeath).
        kills.push(Date.now());
        process.kill(pid, 'SIGUSR2');
        await waitFor(() => !server.alive(), 90_000, `nats-server ${node.name} to leave lame duck mode`);
        await server.stop();
      };
      return {
        name: node.name,
        url,
        port: node.port,
        monitorUrl: `http://127.0.0.1:${node.monitorPort}`,
        ...access,
        violations: () => violationsIn([server]),
        output: server.output,
        start: server.start,
        stop: server.stop,
        kill,
        lameDuck,
        pid: server.pid,
        close: server.close,
      };
    }),
  );
  const url = servers.map((s) => s.url).join(',');
  const access = clientAccess(url, credentials);
  return {
    servers,
    url,
    routes: { urls: routeUrls, user: routeUser, password: routePassword, tls: routeTls },
    ...access,
    violations: () => servers.flatMap((s) => s.violations()),
    async close() {
      access.forget();
      const refused = servers.flatMap((s) => s.violations()).filter((line) => !isReplyAcrossDeath(line, kills));
      await Promise.all(servers.map((s) => s.close()));
      await dir.remove();
      failOnViolations(refused, options);
    },
  };
}

const INCLUDE_PERMISSIONS = 'include ./auth/permissions.conf';

/** An nkey for every identity and the permissions from the table, in `<dir>/auth`. */
function writeCredentials(dir: string): string {
  const credentials = join(dir, 'auth');
  writeNatsAuth({ configDir: credentials, identities: NATS_IDENTITIES });
  return credentials;
}

/** How clients reach the server(s) at `url` as an identity; known to `startService` until forgotten. */
function clientAccess(url: string, credentials: string) {
  credentialsByUrl.set(url, credentials);
  return {
    seedFile: (identity: NatsIdentity) => seedFile(credentials, identity),
    connect: ({ identity = 'admin', ...more }: Partial<NodeConnectionOptions> & { identity?: NatsIdentity } = {}) =>
      natsConnect({
        servers: url.split(','),
        authenticator: nkeyAuthenticator(readSeed(seedFile(credentials, identity))),
        inboxPrefix: inboxPrefix(identity),
        ...more,
      }),
    forget: () => credentialsByUrl.delete(url),
  };
}

function violationsIn(servers: { output(): string }[]): string[] {
  return servers.flatMap((server) => server.output().split('\n').filter(isViolation));
}

/**
 * A reply refused because its request arrived through a server that was killed a moment before:
 * the answerer reconnected to another server, which never saw the request and so does not let it
 * answer (NATS grants a reply per request and per server: allow_responses). The asker times out,
 * as it would if the reply had been lost with the server; no permission rule is missing.
 */
const REPLY_ACROSS_DEATH_MS = 30_000;

function isReplyAcrossDeath(line: string, kills: number[]): boolean {
  const match = /^\[\d+\] (\d{4})\/(\d\d)\/(\d\d) (\d\d:\d\d:\d\d\.\d{3})\d* .* - Publish Violation - .* Subject "_INBOX\./.exec(line);
  if (!match) return false;
  const at = new Date(`${match[1]}-${match[2]}-${match[3]}T${match[4]}`).getTime();
  return kills.some((killedAt) => at >= killedAt - 1_000 && at <= killedAt + REPLY_ACROSS_DEATH_MS);
}

function failOnViolations(refused: string[], options: Pick<NatsOptions, 'expectViolations'>): void {
  if (refused.length > 0 && !options.expectViolations) {
    throw new Error(`NATS refused clients subjects the platform uses (add rules to packages/contracts/src/permissions.ts):\n${refused.join('\n')}`);
  }
}

/** The monitoring endpoint's /healthz: 200 once JetStream works (in a cluster: a meta leader is known). */
async function jetStreamHealthy(monitorPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
