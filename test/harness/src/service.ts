/**
 * The platform's own services as real processes (their compiled `dist/main.js`), configured by
 * environment like in production, ready when their /readyz says so. On a NATS server the harness
 * started, each connects with its own identity (NATS_NKEY_FILE) unless the test names another.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { harnessSeedFile } from './nats.js';
import { startProcess, type Started } from './process.js';
import { freePort } from './ports.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface RunningServiceProcess extends Started {
  readonly httpPort: number;
  readyz(): Promise<{ status: number; body: unknown }>;
  /** A counter or gauge from its /metrics, summed over its labels (0 when absent). */
  metric(name: string): Promise<number>;
}

export async function startService(
  service: 'storage' | 'media' | 'signaling' | 'voicemail' | 'voicebox' | 'web',
  env: Record<string, string>,
  options: { waitReady?: boolean; timeoutMs?: number; /** Its health and metrics port; default a free one. */ httpPort?: number } = {},
): Promise<RunningServiceProcess> {
  const httpPort = options.httpPort ?? (await freePort());
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const seed = env.NATS_URL === undefined ? undefined : harnessSeedFile(env.NATS_URL, service);
  const started = await startProcess({
    name: service,
    command: process.execPath,
    args: [join(REPO_ROOT, 'services', service, 'dist', 'main.js')],
    env: { ...process.env, LOG_LEVEL: 'info', ...(seed ? { NATS_NKEY_FILE: seed } : {}), ...env, HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1' },
    ready: async (output) => {
      if (options.waitReady === false) return output().includes('health and metrics listening');
      try {
        return (await readyz()).status === 200;
      } catch {
        return false;
      }
    },
    timeoutMs: options.timeoutMs ?? 20_000,
  });
  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (match?.[1] === name) sum += Number(match[3]);
    }
    return sum;
  };
  return { ...started, httpPort, readyz, metric };
}
