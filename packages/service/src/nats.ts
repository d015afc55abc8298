/**
 * The NATS connection every service holds: reconnects forever, logs every change of state, and
 * feeds readiness. A service starts even while NATS is down (it reports not ready until connected).
 *
 * It connects as its own identity (NATS_NKEY_FILE, or NATS_USER and NATS_PASSWORD_FILE), over TLS
 * when asked (NATS_TLS_*), and takes its requests' answers on its own inbox prefix, the only
 * inboxes the NATS permissions let it read (packages/contracts/src/permissions.ts).
 */
import { readFileSync } from 'node:fs';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { nkeyAuthenticator, usernamePasswordAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { inboxPrefix, readSeed, type NatsIdentity } from '@sipvm/contracts';
import type { Logger } from 'pino';
import { ConfigError, type CommonConfig } from './config.js';

export interface NatsHandle {
  readonly nc: NatsConnection;
  /** True while the connection is up (not reconnecting, not closed). */
  connected(): boolean;
}

type NatsSettings = Pick<
  CommonConfig,
  'NATS_URL' | 'NATS_NKEY_FILE' | 'NATS_USER' | 'NATS_PASSWORD_FILE' | 'NATS_TLS_CA_FILE' | 'NATS_TLS_CERT_FILE' | 'NATS_TLS_KEY_FILE'
>;

/**
 * Credentials and TLS from the configuration, read and checked now: a missing or bad file is a
 * ConfigError naming its variable (the secret itself is never printed).
 */
export function natsSecurity(config: NatsSettings, identity: NatsIdentity): Partial<NodeConnectionOptions> {
  const problems: string[] = [];
  const readable = (variable: keyof NatsSettings, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`${variable} ("${file}"): cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return undefined;
    }
  };
  const options: Partial<NodeConnectionOptions> = { inboxPrefix: inboxPrefix(identity) };
  if (config.NATS_NKEY_FILE !== undefined && config.NATS_USER !== undefined) {
    problems.push('NATS_NKEY_FILE and NATS_USER: give one way to authenticate, not both');
  }
  if (config.NATS_NKEY_FILE !== undefined && readable('NATS_NKEY_FILE', config.NATS_NKEY_FILE) !== undefined) {
    try {
      options.authenticator = nkeyAuthenticator(readSeed(config.NATS_NKEY_FILE));
    } catch {
      problems.push(`NATS_NKEY_FILE ("${config.NATS_NKEY_FILE}"): does not hold an nkey user seed (SU…)`);
    }
  }
  if ((config.NATS_USER === undefined) !== (config.NATS_PASSWORD_FILE === undefined)) {
    problems.push('NATS_USER and NATS_PASSWORD_FILE: give both or neither');
  } else if (config.NATS_USER !== undefined) {
    const password = readable('NATS_PASSWORD_FILE', config.NATS_PASSWORD_FILE)?.trim();
    if (password === '') problems.push(`NATS_PASSWORD_FILE ("${config.NATS_PASSWORD_FILE}"): is empty`);
    else if (password !== undefined) options.authenticator = usernamePasswordAuthenticator(config.NATS_USER, password);
  }
  if ((config.NATS_TLS_CERT_FILE === undefined) !== (config.NATS_TLS_KEY_FILE === undefined)) {
    problems.push('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE: give both or neither');
  }
  const tlsFiles = { caFile: config.NATS_TLS_CA_FILE, certFile: config.NATS_TLS_CERT_FILE, keyFile: config.NATS_TLS_KEY_FILE };
  for (const [variable, file] of [
    ['NATS_TLS_CA_FILE', tlsFiles.caFile],
    ['NATS_TLS_CERT_FILE', tlsFiles.certFile],
    ['NATS_TLS_KEY_FILE', tlsFiles.keyFile],
  ] as const) {
    readable(variable, file);
  }
  const tlsWanted = Object.values(tlsFiles).some((file) => file !== undefined) || config.NATS_URL.some((url) => url.startsWith('tls://'));
  if (tlsWanted) options.tls = Object.fromEntries(Object.entries(tlsFiles).filter(([, file]) => file !== undefined));
  if (problems.length > 0) throw new ConfigError(problems);
  return options;
}

export async function connectNats(options: { servers: string[]; name: string; log: Logger; security?: Partial<NodeConnectionOptions> }): Promise<NatsHandle> {
  const nc = await connect({
    ...options.security,
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
          // A permission violation here is a gap in packages/contracts/src/permissions.ts.
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
