// Observability a NOC can run (deploy/monitoring/): the alert and recording rules pass promtool's
// checks and their unit tests (rules.test.yml); every metric the rules and the Grafana dashboard
// read is one the services or the NATS exporter serve; and `npm run monitoring` (Debian's
// Prometheus, scripts/monitoring-local.mjs) scrapes a running platform, loads the rules and
// evaluates them against it. A missing promtool or prometheus is a loud skip on a developer's
// machine and a failure in CI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { NATS_METRIC_NAMES } from '../../packages/service/dist/nats-exporter.js';
import { canConnect, freePort, prerequisite, startNatsCluster, startService, tempDir, waitFor } from '@sipvm/harness';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const noPromtool = prerequisite('the alert rules’ tests', has('promtool') ? undefined : 'promtool is not installed (apt-get install prometheus)');

describe('the rules', { skip: noPromtool }, () => {
  it('are valid rules (promtool check rules)', () => {
    const result = spawnSync('promtool', ['check', 'rules', join(here, 'rules.yml')], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  });

  it('fire on what they name and stay quiet otherwise (promtool test rules rules.test.yml)', () => {
    // rule_files in rules.test.yml is relative to where promtool runs.
    const result = spawnSync('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: here, encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    // Every alert has a test.
    const alerts = [...readFileSync(join(here, 'rules.yml'), 'utf8').matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
    const tested = new Set([...readFileSync(join(here, 'rules.test.yml'), 'utf8').matchAll(/alertname: (\w+)$/gm)].map((m) => m[1]));
    assert.deepEqual(
      alerts.filter((alert) => !tested.has(alert)),
      [],
      'alerts without a test',
    );
  });
});

/** Every metric name the services declare (prom-client's `name: 'sipvm_…'`), and the exporter's. */
function exportedNames() {
  const names = new Set(['up', ...NATS_METRIC_NAMES]);
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/name: '(sipvm_\w+)'/g)) {
          for (const suffix of ['', '_bucket', '_sum', '_count']) names.add(`${match[1]}${suffix}`);
        }
      }
    }
  };
  for (const dir of ['packages/service/src', ...readdirSync(join(root, 'services')).map((s) => `services/${s}/src`)]) walk(join(root, dir));
  return names;
}

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or durations. */
function metricsIn(expr) {
  const keywords = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((name) => !keywords.has(name.toLowerCase()));
}

describe('the rules and the dashboard read metrics that exist', () => {
  const names = exportedNames();
  const rulesText = readFileSync(join(here, 'rules.yml'), 'utf8');
  const recorded = new Set([...rulesText.matchAll(/^\s+- record: (\S+)$/gm)].map((m) => m[1]));
  const known = (name) => names.has(name) || recorded.has(name);

  it('the rules', () => {
    const exprs = [...rulesText.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]);
    assert.ok(exprs.length >= 15);
    for (const expr of exprs) for (const name of metricsIn(expr)) assert.ok(known(name), `rules.yml reads ${name}, which nothing exports: ${expr}`);
  });

  it('the Grafana dashboard: valid JSON, every panel a query of exported or recorded metrics', () => {
    const dashboard = JSON.parse(readFileSync(join(here, 'grafana', 'sipvm-call-path.json'), 'utf8'));
    assert.equal(dashboard.uid, 'sipvm-call-path');
    assert.ok(dashboard.panels.length >= 10);
    const shown = new Set();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets?.length > 0, `${panel.title} has a query`);
      for (const { expr } of panel.targets) {
        for (const name of metricsIn(expr)) {
          assert.ok(known(name), `panel "${panel.title}" reads ${name}, which nothing exports`);
          shown.add(name);
        }
      }
    }
    // The call path: rate, refusals, latencies, queue depths.
    for (const name of ['sipvm_sip_invites_total', 'sipvm:invites_refused:ratio5m', 'sipvm_media_answer_p90_seconds', 'sipvm:handover_backlog:max'])
      assert.ok(shown.has(name), `the dashboard shows ${name}`);
  });

  it('the check can fail: an unknown metric is found', () => {
    assert.deepEqual(
      metricsIn('sum by (instance) (rate(sipvm_no_such_thing_total{a="b"}[5m])) > 0').filter((name) => !known(name)),
      ['sipvm_no_such_thing_total'],
    );
  });
});

const noPrometheus = prerequisite(
  '`npm run monitoring` against a running platform',
  has('prometheus') ? undefined : 'prometheus is not installed (apt-get install prometheus)',
);

describe('npm run monitoring: Debian’s Prometheus scraping the platform on this machine', { skip: noPrometheus }, () => {
  let nats;
  let home;
  let monitoring;
  const services = [];
  let prometheus;

  before(async () => {
    // npm start's ports moved by SIPVM_PORT_OFFSET, as a second platform on the same machine would.
    let offset = 0;
    for (let attempt = 0; attempt < 20 && offset === 0; attempt++) {
      const candidate = 20_000 + Math.floor(Math.random() * 20_000);
      const busy = await Promise.all([9101, 9102, 9103, 9104, 9105, 9106, 7777].map((port) => canConnect(port + candidate, '127.0.0.1')));
      if (!busy.some(Boolean)) offset = candidate;
    }
    assert.ok(offset > 0, 'free ports for the platform');
    nats = await startNatsCluster(1);
    const env = { NATS_URL: nats.url, LOG_LEVEL: 'warn' };
    home = await tempDir('monitoring');
    // The shared services; media and signaling stay away (their targets must be down).
    services.push(
      await startService('storage', { ...env, STORAGE_BACKEND: 'local', STORAGE_DIR: join(home.path, 'storage') }, { httpPort: 9101 + offset }),
      await startService('voicemail', { ...env, SMTP_PORT: '9' }, { httpPort: 9103 + offset }),
      await startService('voicebox', env, { httpPort: 9105 + offset }),
      await startService(
        'web',
        {
          ...env,
          WEB_HOST: '127.0.0.1',
          WEB_PORT: String(await freePort()),
          WEB_OPERATOR_KEY: randomBytes(16).toString('hex'),
          WEB_TOKEN_SECRET: randomBytes(32).toString('hex'),
        },
        { httpPort: 9106 + offset },
      ),
    );
    const port = await freePort();
    prometheus = `http://127.0.0.1:${port}/api/v1`;
    monitoring = spawn(process.execPath, [join(root, 'scripts', 'monitoring-local.mjs')], {
      env: {
        ...process.env,
        SIPVM_HOME: home.path,
        SIPVM_PORT_OFFSET: String(offset),
        NATS_MONITOR_PORT: new URL(nats.servers[0].monitorUrl).port,
        PROMETHEUS_PORT: String(port),
        SCRAPE_INTERVAL: '1s',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  });

  after(async () => {
    monitoring?.kill('SIGINT');
    await new Promise((resolve) => (monitoring && monitoring.exitCode === null ? monitoring.on('exit', resolve) : resolve()));
    for (const service of services) await service.stop();
    await nats?.close();
    await home?.remove();
  });

  const api = async (path) => (await (await fetch(`${prometheus}/${path}`)).json()).data;

  it('scrapes every service and NATS, loads the rules, and raises what is wrong', async () => {
    const scraped = async () => {
      const targets = (await api('targets').catch(() => undefined))?.activeTargets ?? [];
      return targets.length === 7 && targets.every((t) => t.health !== 'unknown');
    };
    await waitFor(scraped, 30_000, 'every target scraped once');
    const health = Object.fromEntries((await api('targets')).activeTargets.map((t) => [t.labels.job, t.health]));
    assert.deepEqual(health, {
      'sipvm-storage': 'up',
      'sipvm-voicemail': 'up',
      'sipvm-voicebox': 'up',
      'sipvm-web': 'up',
      'sipvm-media': 'down',
      'sipvm-signaling': 'down',
      nats: 'up',
    });
    const groups = await api('rules');
    assert.deepEqual(groups.groups.map((g) => g.name).sort(), ['sipvm-alerts', 'sipvm-recording']);
    const query = async (expr) => (await api(`query?query=${encodeURIComponent(expr)}`)).result;
    await waitFor(async () => (await query('count(sipvm_ready == 1)'))[0]?.value[1] === '4', 20_000, 'four services ready, by their own gauge');
    assert.equal((await query('nats_up'))[0]?.value[1], '1');
    assert.ok(Number((await query('nats_jetstream_storage_max_bytes'))[0]?.value[1]) > 0, "NATS's JetStream limits");
    // The services missing are an alert on its way (it fires after 2 minutes).
    await waitFor(
      async () =>
        (await api('alerts')).alerts.some((a) => a.labels.alertname === 'SipvmServiceDown' && a.labels.job === 'sipvm-media' && a.state === 'pending'),
      20_000,
      'SipvmServiceDown pending for media',
    );
    for (const rule of groups.groups.flatMap((g) => g.rules)) assert.notEqual(rule.health, 'err', `${rule.name}: ${rule.lastError}`);
  });
});
