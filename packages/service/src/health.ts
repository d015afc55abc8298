/**
 * The HTTP side of every service: /healthz (the process is alive), /readyz (it can do its job
 * now: every readiness check passes), /metrics (Prometheus text format) and /drain (GET: whether
 * it drains and what it still holds; POST, from this host only: begin draining, drain.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, type Registry } from 'prom-client';
import type { Drain } from './drain.js';

export type ReadinessCheck = () => boolean | Promise<boolean>;

export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();
  #stopping = false;

  /** Registers a named check; a check that throws counts as failing. */
  add(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  /** From now on /readyz says no, so load balancers stop sending work during shutdown. */
  markStopping(): void {
    this.#stopping = true;
  }

  async evaluate(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = { accepting: !this.#stopping };
    for (const [name, check] of this.#checks) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    return { ready: Object.values(checks).every(Boolean), checks };
  }
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `sipvm_ready` and `sipvm_draining` on every service's /metrics: what /readyz and /drain say, for
 * alerts (a service up but not ready is as bad as one down, and a node left draining takes no call).
 */
function registerReadinessMetrics(registry: Registry, readiness: Readiness, drain: Drain): void {
  new Gauge({
    name: 'sipvm_ready',
    help: '1 while /readyz answers 200 (every readiness check passes)',
    registers: [registry],
    async collect() {
      this.set((await readiness.evaluate()).ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sipvm_draining',
    help: '1 from the moment draining began (POST /drain or SIGTERM): no new work is taken',
    registers: [registry],
    collect() {
      this.set(drain.draining ? 1 : 0);
    },
  });
}

/** POST /drain comes from the preStop hook on this host; nobody else may take an instance out. */
function fromThisHost(req: IncomingMessage): boolean {
  const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return address === '::1' || address.startsWith('127.');
}

export async function startHealthServer(options: {
  host: string;
  port: number;
  readiness: Readiness;
  registry: Registry;
  drain: Drain;
}): Promise<HealthServer> {
  registerReadinessMetrics(options.registry, options.readiness, options.drain);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/drain') {
      if (req.method === 'POST') {
        if (!fromThisHost(req)) return reply(403, 'text/plain', 'draining is asked from this host only\n');
        options.drain.start();
        return reply(202, 'application/json', `${JSON.stringify(options.drain.status())}\n`);
      }
      if (req.method === 'GET') return reply(200, 'application/json', `${JSON.stringify(options.drain.status())}\n`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'application/json', '{"ok":true}\n');
    if (path === '/readyz') {
      void options.readiness.evaluate().then(
        ({ ready, checks }) => reply(ready ? 200 : 503, 'application/json', `${JSON.stringify({ ok: ready, checks })}\n`),
        () => reply(503, 'application/json', '{"ok":false}\n'),
      );
      return;
    }
    if (path === '/metrics') {
      void options.registry.metrics().then(
        (text) => reply(200, options.registry.contentType, text),
        (error: unknown) => reply(500, 'text/plain', `${String(error)}\n`),
      );
      return;
    }
    reply(404, 'text/plain', 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
