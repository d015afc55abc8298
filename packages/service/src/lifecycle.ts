/**
 * How every service runs: validate configuration, start logging, health and metrics, connect to
 * NATS, start the service's own work; on SIGTERM/SIGINT stop taking work, let what is in flight
 * finish (bounded by SHUTDOWN_TIMEOUT_MS), drain NATS and exit.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { setJetStreamReplicas, type ServiceIdentity } from '@sipvm/contracts';
import { commonConfigShape, ConfigError, loadConfig, type CommonConfig } from './config.js';
import { createLogger } from './logger.js';
import { Drain } from './drain.js';
import { Readiness, startHealthServer } from './health.js';
import { createRegistry } from './metrics.js';
import { connectNats, natsSecurity, type NatsHandle } from './nats.js';
import { startTracing } from './tracing.js';

export interface ServiceContext<C> {
  readonly config: C & CommonConfig;
  readonly log: Logger;
  readonly nc: NatsConnection;
  /** Whether NATS is reachable now (not reconnecting), e.g. to refuse new work while it is not. */
  readonly natsConnected: () => boolean;
  readonly registry: Registry;
  readonly readiness: Readiness;
  /**
   * Begins at POST /drain (a preStop hook) or SIGTERM: the service stops taking new work
   * (`onStart`) and says what it still holds (`track`) until `stop()` is called.
   */
  readonly drain: Drain;
}

export interface RunningService {
  /** Stop taking new work and finish (or hand back) what is in flight. */
  stop(): Promise<void>;
}

export interface ServiceDefinition<S extends Record<string, z.ZodType>, P = undefined> {
  /** Also its identity on NATS: what it may publish and subscribe to (contracts' permissions.ts). */
  name: ServiceIdentity;
  /** Environment variables of this service, on top of the common ones. */
  config: S;
  /**
   * Checks that involve several variables (e.g. S3_BUCKET is required when STORAGE_BACKEND=s3).
   * Returns problems worded like the others: `VARIABLE (value): what is wrong`.
   */
  check?: (config: z.output<z.ZodObject<S>>) => string[];
  /**
   * Loads what the service needs from disk (templates, key maps, …) before anything connects,
   * so a broken file stops it at once. Throwing a ConfigError exits with EX_CONFIG.
   */
  prepare?: (config: z.output<z.ZodObject<S>>) => Promise<P>;
  start(context: ServiceContext<z.output<z.ZodObject<S>>> & { prepared: P }): Promise<RunningService>;
}

/** Exit status for a configuration error (sysexits EX_CONFIG), so orchestrators can tell it apart. */
export const EXIT_CONFIG = 78;

export async function runService<S extends Record<string, z.ZodType>, P = undefined>(definition: ServiceDefinition<S, P>): Promise<void> {
  let config;
  let prepared: P;
  let security;
  try {
    config = loadConfig({ ...commonConfigShape, ...definition.config });
    const problems = definition.check?.(config as z.output<z.ZodObject<S>>) ?? [];
    if (problems.length > 0) throw new ConfigError(problems);
    security = natsSecurity(config as unknown as CommonConfig, definition.name);
    prepared = (await definition.prepare?.(config as z.output<z.ZodObject<S>>)) as P;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${definition.name}: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const common = config as unknown as CommonConfig;
  setJetStreamReplicas(common.JETSTREAM_REPLICAS);
  const log = createLogger(definition.name, common.INSTANCE_ID, common.LOG_LEVEL);
  const tracing = await startTracing(definition.name, common, log);
  const registry = createRegistry(definition.name, common.INSTANCE_ID);
  const readiness = new Readiness();
  const drain = new Drain();
  drain.onStart(() => {
    readiness.markStopping();
    log.info('draining: no new work from now on');
  });
  // Not ready until start-up has finished: registered before /readyz can be asked.
  let started = false;
  readiness.add('started', () => started);
  const natsRef: { handle?: NatsHandle } = {};
  readiness.add('nats', () => natsRef.handle?.connected() ?? false);
  const health = await startHealthServer({ host: common.HTTP_HOST, port: common.HTTP_PORT, readiness, registry, drain });
  log.info({ httpPort: health.port }, 'health and metrics listening');

  const nats = await connectNats({ servers: common.NATS_URL, name: `${definition.name}/${common.INSTANCE_ID}`, log, security });
  natsRef.handle = nats;

  const running = await definition.start({
    config: config as z.output<z.ZodObject<S>> & CommonConfig,
    log,
    nc: nats.nc,
    natsConnected: nats.connected,
    registry,
    readiness,
    drain,
    prepared,
  });
  // Subscriptions are registered with the server once flushed; only then is the service ready.
  await nats.nc.flush();
  started = true;
  log.info('started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    drain.start();
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: common.SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, common.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    try {
      await running.stop();
      await nats.nc.drain();
      await health.close();
      await tracing.stop();
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: String(error) }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
