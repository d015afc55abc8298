/**
 * The web service as a real process for tests: fresh secrets, its API on a free loopback port,
 * and the operator's one call every test needs — issuing a mailbox token.
 */
import { randomBytes } from 'node:crypto';
import type { Mailbox } from '@sipvm/contracts';
import { freePort } from './ports.js';
import { startService, type RunningServiceProcess } from './service.js';

export interface RunningWebService {
  process: RunningServiceProcess;
  /** http://127.0.0.1:<port>, the API and the inbox. */
  readonly url: string;
  readonly operatorKey: string;
  /** What signs its tokens: another instance given the same one accepts them. */
  readonly tokenSecret: string;
  /** A mailbox token from the operator route (every scope unless `scopes` says otherwise). */
  issueToken(mailbox: Mailbox, options?: { scopes?: string[]; ttlSeconds?: number }): Promise<string>;
  /** Stops and starts it again with the same environment, port and secrets. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebService(env: Record<string, string>): Promise<RunningWebService> {
  const port = await freePort();
  const operatorKey = env.WEB_OPERATOR_KEY || randomBytes(32).toString('hex');
  const tokenSecret = env.WEB_TOKEN_SECRET || randomBytes(32).toString('hex');
  const serviceEnv = {
    WEB_PORT: String(port),
    WEB_HOST: '127.0.0.1',
    WEB_OPERATOR_KEY: operatorKey,
    WEB_TOKEN_SECRET: tokenSecret,
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...env,
  };
  const url = `http://127.0.0.1:${port}`;
  const web: RunningWebService = {
    process: await startService('web', serviceEnv),
    url,
    operatorKey,
    tokenSecret,
    async issueToken(mailbox, options = {}) {
      const response = await fetch(`${url}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-operator-key': operatorKey },
        body: JSON.stringify({ mailbox, ...options }),
      });
      if (response.status !== 201) throw new Error(`issuing a token: HTTP ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    },
    async restart() {
      await web.process.stop();
      web.process = await startService('web', serviceEnv);
    },
    stop: () => web.process.stop(),
  };
  return web;
}
