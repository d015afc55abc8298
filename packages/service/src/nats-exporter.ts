/**
 * NATS's own state for Prometheus: nats-server's monitoring endpoint (/varz, /jsz, /healthz) read
 * at every scrape and served as metrics, so that a JetStream store filling up, a stream or the
 * cluster without a leader, or a consumer falling behind (the platform's hand-over queues: deposits,
 * mail, MWI, webhooks) raise an alert (deploy/monitoring/). nats-server has no Prometheus endpoint
 * of its own; this one runs beside each server (Kubernetes: a container of the NATS pod; compose:
 * the monitoring profile; `npm run monitoring`).
 *
 *   node packages/service/dist/nats-exporter.js --nats http://127.0.0.1:8222 [--port 7777] [--host 0.0.0.0]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

interface ConsumerDetail {
  name: string;
  num_pending?: number;
  num_ack_pending?: number;
  num_redelivered?: number;
}
interface StreamDetail {
  name: string;
  cluster?: { leader?: string };
  state?: { messages?: number; bytes?: number };
  consumer_detail?: ConsumerDetail[];
}
interface Jsz {
  config?: { max_memory?: number; max_storage?: number };
  memory?: number;
  storage?: number;
  meta_cluster?: { leader?: string; cluster_size?: number };
  account_details?: { stream_detail?: StreamDetail[] }[];
}
interface Varz {
  server_name?: string;
  connections?: number;
  routes?: number;
  slow_consumers?: number;
  mem?: number;
  cluster?: { name?: string };
}

/** One sample: name, labels, value. */
type Sample = [string, Record<string, string>, number];

const HELP: Record<string, [type: 'gauge' | 'counter', help: string]> = {
  nats_up: ['gauge', '1 when the monitoring endpoint answered this scrape'],
  nats_server_healthy: ['gauge', "1 while the server's /healthz says 200 (JetStream current)"],
  nats_server_connections: ['gauge', 'client connections'],
  nats_server_routes: ['gauge', 'routes to other servers of the cluster'],
  nats_server_slow_consumers_total: ['counter', 'clients dropped or delayed for reading too slowly'],
  nats_server_memory_bytes: ['gauge', "the server process's memory"],
  nats_jetstream_storage_bytes: ['gauge', 'JetStream file storage in use'],
  nats_jetstream_storage_max_bytes: ['gauge', 'JetStream file storage allowed (max_file_store)'],
  nats_jetstream_memory_bytes: ['gauge', 'JetStream memory storage in use'],
  nats_jetstream_memory_max_bytes: ['gauge', 'JetStream memory storage allowed (max_memory_store)'],
  nats_jetstream_meta_leader: ['gauge', "1 while this server knows the JetStream cluster's leader (clustered servers only)"],
  nats_jetstream_stream_messages: ['gauge', 'messages in a stream (on every server holding a copy)'],
  nats_jetstream_stream_bytes: ['gauge', 'bytes in a stream'],
  nats_jetstream_stream_leader: ['gauge', '1 while the stream has a leader, as this server sees it'],
  nats_jetstream_consumer_pending_messages: ['gauge', 'messages of the stream the consumer has not been given yet'],
  nats_jetstream_consumer_ack_pending_messages: ['gauge', 'messages given to the consumer and not yet acknowledged'],
  nats_jetstream_consumer_redelivered_messages: ['gauge', 'messages given to the consumer more than once'],
};

/** The samples a scrape serves, from what the monitoring endpoint said (undefined: it did not answer). */
export function natsSamples(state: { varz: Varz; jsz: Jsz; healthy: boolean } | undefined): Sample[] {
  if (state === undefined) return [['nats_up', {}, 0]];
  const { varz, jsz } = state;
  const server = { server: varz.server_name ?? '' };
  const samples: Sample[] = [
    ['nats_up', server, 1],
    ['nats_server_healthy', server, state.healthy ? 1 : 0],
    ['nats_server_connections', server, varz.connections ?? 0],
    ['nats_server_routes', server, varz.routes ?? 0],
    ['nats_server_slow_consumers_total', server, varz.slow_consumers ?? 0],
    ['nats_server_memory_bytes', server, varz.mem ?? 0],
    ['nats_jetstream_storage_bytes', server, jsz.storage ?? 0],
    ['nats_jetstream_storage_max_bytes', server, jsz.config?.max_storage ?? 0],
    ['nats_jetstream_memory_bytes', server, jsz.memory ?? 0],
    ['nats_jetstream_memory_max_bytes', server, jsz.config?.max_memory ?? 0],
  ];
  if (varz.cluster?.name) samples.push(['nats_jetstream_meta_leader', server, jsz.meta_cluster?.leader ? 1 : 0]);
  for (const stream of (jsz.account_details ?? []).flatMap((account) => account.stream_detail ?? [])) {
    const labels = { ...server, stream: stream.name };
    samples.push(['nats_jetstream_stream_messages', labels, stream.state?.messages ?? 0], ['nats_jetstream_stream_bytes', labels, stream.state?.bytes ?? 0]);
    if (stream.cluster) samples.push(['nats_jetstream_stream_leader', labels, stream.cluster.leader ? 1 : 0]);
    for (const consumer of stream.consumer_detail ?? []) {
      const of = { ...labels, consumer: consumer.name };
      samples.push(
        ['nats_jetstream_consumer_pending_messages', of, consumer.num_pending ?? 0],
        ['nats_jetstream_consumer_ack_pending_messages', of, consumer.num_ack_pending ?? 0],
        ['nats_jetstream_consumer_redelivered_messages', of, consumer.num_redelivered ?? 0],
      );
    }
  }
  return samples;
}

/** Prometheus's text format: HELP and TYPE once per metric, then its samples. */
export function exposition(samples: Sample[]): string {
  const lines: string[] = [];
  for (const [name, [type, help]] of Object.entries(HELP)) {
    const mine = samples.filter(([n]) => n === name);
    if (mine.length === 0) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [, labels, value] of mine) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`)
        .join(',');
      lines.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The metric names this exporter serves (for the dashboard's and the rules' checks). */
export const NATS_METRIC_NAMES = Object.keys(HELP);

async function scrape(monitor: string): Promise<Parameters<typeof natsSamples>[0]> {
  const get = async (path: string) => {
    const res = await fetch(`${monitor}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { ok: res.ok, body: (await res.json()) as unknown };
  };
  try {
    const [varz, jsz, health] = await Promise.all([get('/varz'), get('/jsz?accounts=true&streams=true&consumers=true'), get('/healthz')]);
    return { varz: varz.body as Varz, jsz: jsz.body as Jsz, healthy: health.ok };
  } catch {
    return undefined;
  }
}

if (process.argv[1]?.endsWith('nats-exporter.js')) {
  const { values } = parseArgs({
    options: {
      nats: { type: 'string', default: 'http://127.0.0.1:8222' },
      port: { type: 'string', default: '7777' },
      host: { type: 'string', default: '0.0.0.0' },
    },
  });
  const monitor = values.nats.replace(/\/$/, '');
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(req.url === '/healthz' ? 200 : 404).end();
      return;
    }
    void scrape(monitor).then((state) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition(natsSamples(state)));
    });
  });
  server.listen(Number(values.port), values.host, () => process.stdout.write(`nats-exporter: ${monitor} on http://${values.host}:${values.port}/metrics\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
