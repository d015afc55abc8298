/** A real nats-server with JetStream (Debian package `nats-server`) on a free loopback port. */
import { startRestartable } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server, keeping its JetStream store, so `start()` brings the same state back. */
  stop(): Promise<void>;
  start(): Promise<void>;
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
  return { url: `nats://127.0.0.1:${port}`, port, start: server.start, stop: server.stop, close: server.close };
}
