/**
 * The NATS connection every service holds: reconnects forever, logs every change of state, and
 * feeds readiness. A service starts even while NATS is down (it reports not ready until connected).
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';

export interface NatsHandle {
  readonly nc: NatsConnection;
  /** True while the connection is up (not reconnecting, not closed). */
  connected(): boolean;
}

export async function connectNats(options: { servers: string[]; name: string; log: Logger }): Promise<NatsHandle> {
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // Every request would otherwise build an Error up front to carry its caller's stack (a few
    // percent of a service's CPU under load); our errors name the subject, which is enough.
    noAsyncTraces: true,
  });
  let up = true;
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          up = false;
          options.log.warn({ server: status.server }, 'NATS disconnected');
          break;
        case 'reconnect':
          up = true;
          options.log.info({ server: status.server }, 'NATS reconnected');
          break;
        case 'error':
          options.log.error({ err: String(status.error) }, 'NATS error');
          break;
        default:
          options.log.debug({ status: status.type }, 'NATS status');
      }
    }
  })();
  options.log.info({ server: nc.getServer() }, 'NATS connected');
  return { nc, connected: () => up && !nc.isClosed() && !nc.isDraining() };
}
