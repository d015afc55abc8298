#!/usr/bin/env node
// `npm run monitoring`: Debian's Prometheus scraping the platform `npm start` runs on this machine,
// with sipvm's alert and recording rules (deploy/monitoring/), and NATS's own state through the
// NATS exporter. Prometheus on http://127.0.0.1:9090 (PROMETHEUS_PORT), its data in
// .local/prometheus (SIPVM_HOME); Ctrl-C stops both.
// Environment: as npm start's — SIPVM_PORT_OFFSET (added to the services' ports 9101–9106),
// NATS_MONITOR_PORT (8222) — and PROMETHEUS_PORT, NATS_EXPORTER_PORT (7777 + offset),
// SCRAPE_INTERVAL (15s).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const home = resolve(process.env.SIPVM_HOME ?? join(root, '.local'));
const offset = Number(process.env.SIPVM_PORT_OFFSET ?? 0);
const local = (base) => `127.0.0.1:${base + offset}`;
const exporterPort = process.env.NATS_EXPORTER_PORT ?? String(7777 + offset);
const prometheusPort = process.env.PROMETHEUS_PORT ?? '9090';
const dir = join(home, 'prometheus');
mkdirSync(join(dir, 'data'), { recursive: true });

// The one template compose's image fills in too (deploy/prometheus/entrypoint.sh).
const values = {
  SCRAPE_INTERVAL: process.env.SCRAPE_INTERVAL ?? '15s',
  RULES_FILE: join(root, 'deploy', 'monitoring', 'rules.yml'),
  STORAGE_METRICS: local(9101),
  MEDIA_METRICS: local(9102),
  VOICEMAIL_METRICS: local(9103),
  SIGNALING_METRICS: local(9104),
  VOICEBOX_METRICS: local(9105),
  WEB_METRICS: local(9106),
  NATS_EXPORTER: `127.0.0.1:${exporterPort}`,
};
const template = readFileSync(join(root, 'deploy', 'monitoring', 'prometheus.yml'), 'utf8');
const config = join(dir, 'prometheus.yml');
writeFileSync(
  config,
  template.replace(/\$\{([A-Z_]+)\}/g, (_, name) => values[name] ?? `\${${name}}`),
);

const children = [
  spawn(
    process.execPath,
    [
      join(root, 'packages', 'service', 'dist', 'nats-exporter.js'),
      '--nats',
      `http://127.0.0.1:${process.env.NATS_MONITOR_PORT ?? '8222'}`,
      '--host',
      '127.0.0.1',
      '--port',
      exporterPort,
    ],
    { stdio: 'inherit' },
  ),
  spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${prometheusPort}`, '--log.level=warn'],
    { stdio: 'inherit' },
  ),
];
console.log(`monitoring: Prometheus on http://127.0.0.1:${prometheusPort} (rules: deploy/monitoring/rules.yml), NATS exporter on 127.0.0.1:${exporterPort}`);
let stopping = false;
const stop = (code) => {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 2_000).unref();
};
for (const child of children) child.on('exit', (code) => stop(code ?? 1));
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
