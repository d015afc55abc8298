// The deployment files cannot be run here (no Docker engine), so they are checked with what can
// run: docker-compose's own validation and kustomize's rendering, and that both run every service
// in services/. Each check says loudly when its tool is missing instead of passing silently.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** Every service of the repository (services/<name>/package.json): each must run everywhere. */
const services = readdirSync(join(root, 'services')).filter((name) => existsSync(join(root, 'services', name, 'package.json'))).sort();
const runs = (name) => new RegExp(`services/${name}/dist/main\\.js`);

it('docker-compose.yml is a valid Compose file', (t) => {
  if (!has('docker-compose')) return t.skip('SKIPPED: docker-compose is not installed (apt-get install docker-compose)');
  const result = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  for (const name of services) assert.match(result.stdout, runs(name), `docker-compose.yml runs ${name}`);
});

it('deploy/k8s renders with kustomize, every workload with probes', (t) => {
  if (!has('kubectl')) return t.skip('SKIPPED: kubectl is not installed');
  const result = spawnSync('kubectl', ['kustomize', join(root, 'deploy', 'k8s')], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const deployments = result.stdout.split('\n---\n').filter((doc) => /^kind: (Deployment|DaemonSet)$/m.test(doc));
  assert.equal(deployments.length, 6, 'storage, voicemail, voicebox, media, signaling, web');
  for (const name of services) assert.equal(deployments.filter((doc) => runs(name).test(doc)).length, 1, `one workload runs ${name}`);
  for (const doc of deployments) {
    assert.match(doc, /readinessProbe:/);
    assert.match(doc, /livenessProbe:/);
  }
});
