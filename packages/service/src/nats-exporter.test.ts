/**
 * The NATS exporter against a real three-server cluster: it serves what the alerts read — storage in
 * use and allowed, the cluster's and a stream's leader, a consumer's backlog — and says so when the
 * server is gone.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { freePort, startNatsCluster, waitFor, type NatsCluster } from '@sipvm/harness';

const EXPORTER = join(dirname(fileURLToPath(import.meta.url)), 'nats-exporter.js');

let cluster: NatsCluster;
let nc: NatsConnection;
let exporter: ChildProcess;
let url: string;

before(async () => {
  cluster = await startNatsCluster(3);
  nc = await cluster.connect();
  const port = await freePort();
  exporter = spawn(process.execPath, [EXPORTER, '--nats', cluster.servers[0]!.monitorUrl, '--port', String(port), '--host', '127.0.0.1'], { stdio: 'ignore' });
  url = `http://127.0.0.1:${port}/metrics`;
  await waitFor(async () => (await fetch(url).catch(() => undefined))?.ok === true, 10_000, 'the exporter');
});

after(async () => {
  exporter?.kill();
  await nc?.close();
  await cluster?.close();
});

/** The value of one sample whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`));
    if (has) return Number(match[3]);
  }
  return undefined;
}

it("serves the JetStream store's use and limit, the leaders, and a consumer's backlog", async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'EXPORTER_TEST', subjects: ['exporter.test'], num_replicas: 3 });
  await jsm.consumers.add('EXPORTER_TEST', { durable_name: 'behind', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  for (let i = 0; i < 5; i++) await js.publish('exporter.test', `message ${i}`);
  let text = '';
  await waitFor(
    async () =>
      sample((text = await (await fetch(url)).text()), 'nats_jetstream_consumer_pending_messages', { stream: 'EXPORTER_TEST', consumer: 'behind' }) === 5,
    10_000,
    'the backlog of 5',
  );
  assert.equal(sample(text, 'nats_up'), 1);
  assert.equal(sample(text, 'nats_server_healthy'), 1);
  assert.equal(sample(text, 'nats_server_routes'), 2);
  assert.equal(sample(text, 'nats_jetstream_meta_leader'), 1);
  assert.equal(sample(text, 'nats_jetstream_stream_leader', { stream: 'EXPORTER_TEST' }), 1);
  assert.equal(sample(text, 'nats_jetstream_stream_messages', { stream: 'EXPORTER_TEST' }), 5);
  assert.ok((sample(text, 'nats_jetstream_storage_bytes') ?? 0) > 0);
  assert.ok((sample(text, 'nats_jetstream_storage_max_bytes') ?? 0) > (sample(text, 'nats_jetstream_storage_bytes') ?? 0));
  assert.match(text, /^# TYPE nats_server_slow_consumers_total counter$/m);
});

it('says nats_up 0 while its server is gone', async () => {
  const server = cluster.servers[0]!;
  await server.stop();
  try {
    const text = await (await fetch(url)).text();
    assert.equal(sample(text, 'nats_up'), 0);
  } finally {
    await server.start();
  }
});
