/** A real nats-server with JetStream (Debian package `nats-server`) on a free loopback port, or a cluster of them. */
import { startRestartable } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server, keeping its JetStream store, so `start()` brings the same state back. */
  stop(): Promise<void>;
  /** SIGKILL: a crash (its store stays for `start()`). */
  kill(): Promise<void>;
  start(): Promise<void>;
  pid(): number | undefined;
  output(): string;
  /** Stops it for good and removes its store. */
  close(): Promise<void>;
}

export const NATS_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

export async function startNats(): Promise<NatsServer> {
  const port = await freePort();
  const store = await tempDir('nats');
  const server = await startRestartable(
    {
      name: 'nats-server',
      command: NATS_BIN,
      args: ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store.path],
      ready: (output) => output().includes('Server is ready'),
    },
    store,
  );
  return { url: `nats://127.0.0.1:${port}`, port, ...server };
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Every server's URL, comma-separated (NATS_URL of the services). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `size` clustered nats-servers with JetStream on loopback (routes between them, one store each),
 * ready once each says its JetStream is healthy (the cluster has a meta leader): streams and KV
 * buckets with up to `size` replicas can be created.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const nodes = await Promise.all(
    Array.from({ length: size }, async (_, i) => ({
      name: `n${i + 1}`,
      port: await freePort(),
      routePort: await freePort(),
      monitorPort: await freePort(),
      store: await tempDir(`nats-n${i + 1}`),
    })),
  );
  const routes = nodes.map((n) => `nats-route://127.0.0.1:${n.routePort}`).join(',');
  const servers = await Promise.all(
    nodes.map(async (node): Promise<NatsServer> => {
      const server = await startRestartable(
        {
          name: `nats-server ${node.name}`,
          command: NATS_BIN,
          args: [
            '-js', '-sd', node.store.path,
            '--server_name', node.name,
            '-a', '127.0.0.1', '-p', String(node.port),
            '-m', String(node.monitorPort),
            // One server alone is no cluster: it would wait for routes to itself forever.
            ...(size > 1 ? ['--cluster_name', 'sipvm-test', '--cluster', `nats://127.0.0.1:${node.routePort}`, '--routes', routes] : []),
          ],
          ready: (output) => output().includes('Server is ready') && jetStreamHealthy(node.monitorPort),
          timeoutMs: 30_000,
        },
        node.store,
      );
      return { url: `nats://127.0.0.1:${node.port}`, port: node.port, ...server };
    }),
  );
  return {
    servers,
    url: servers.map((s) => s.url).join(','),
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
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
