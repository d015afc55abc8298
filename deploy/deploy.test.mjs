// The deployment files, checked offline: docker-compose's own validation, and the Kubernetes
// manifests rendered by kustomize (`kubectl kustomize`, with secrets from generate-secrets.sh) and
// validated object by object against the Kubernetes OpenAPI schema (the npm package
// kubernetes-models: validators generated from the upstream OpenAPI spec — types, required
// fields, enums, formats), then against the invariants an operator relies on. Running them for real
// is `npm run test:compose` (compose) — there is no cluster here. A missing tool is a loud skip on
// a developer's machine and a failure in CI.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { natsPermissionsConfig, SERVICE_IDENTITIES } from '@sipvm/contracts';
import { prerequisite } from '@sipvm/harness';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** Every service of the repository (services/<name>/package.json): each must run everywhere. */
const services = readdirSync(join(root, 'services'))
  .filter((name) => existsSync(join(root, 'services', name, 'package.json')))
  .sort();
const runs = (name) => new RegExp(`services/${name}/dist/main\\.js`);

const noCompose = prerequisite(
  'the compose file check',
  has('docker-compose') ? undefined : 'docker-compose is not installed (apt-get install docker-compose)',
);
it('docker-compose.yml is a valid Compose file', { skip: noCompose }, () => {
  const result = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), '--profile', 's3', 'config'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  for (const name of services) assert.match(result.stdout, runs(name), `docker-compose.yml runs ${name}`);
});

const MODELS = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};
/** The version of the platform: the tag of its image everywhere. */
const VERSION = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
/** The longest message (VM_MAX_MESSAGE_MS default) a call in progress may still be recording. */
const MAX_MESSAGE_S = 120;

const noKubectl = prerequisite('the Kubernetes manifest checks', has('kubectl') ? undefined : 'kubectl is not installed (apt-get install kubernetes-client)');
describe('deploy/k8s', { skip: noKubectl }, () => {
  let objects = [];
  const ofKind = (kind) => objects.filter((o) => o.kind === kind);
  const named = (kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const workloads = () => objects.filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind));
  const containers = (o) => [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers];
  const envOf = (container) => Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

  before(() => {
    // Render a copy with generated secrets, as an operator would after generate-secrets.sh.
    const dir = mkdtempSync(join(tmpdir(), 'sipvm-k8s-'));
    try {
      cpSync(join(root, 'deploy', 'k8s'), dir, { recursive: true, filter: (src) => !src.includes('/secrets') });
      // The checkout's script (it makes the nkeys with this checkout's build), into the copy.
      const secrets = spawnSync('bash', [join(root, 'deploy', 'k8s', 'generate-secrets.sh'), dir], { encoding: 'utf8' });
      assert.equal(secrets.status, 0, secrets.stderr);
      const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS());
      // kustomize folds long base64 values over lines; the API server's decoder skips the line
      // breaks, the schema's `byte` pattern does not.
      for (const secret of objects.filter((o) => o.kind === 'Secret')) {
        for (const key of Object.keys(secret.data ?? {})) secret.data[key] = secret.data[key].replace(/\s/g, '');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every object is valid against the Kubernetes OpenAPI schema', () => {
    assert.ok(objects.length > 20, `${objects.length} objects rendered`);
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      assert.ok(Model, `${object.apiVersion} ${object.kind} ${object.metadata?.name} has a schema to check against`);
      assert.doesNotThrow(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`);
    }
  });

  it('a misspelt or mistyped field fails that validation (the check can fail)', () => {
    const deployment = structuredClone(named('Deployment', 'storage'));
    deployment.spec.template.spec.terminationGracePeriodSeconds = '60';
    assert.throws(() => new Deployment(deployment).validate());
    delete deployment.spec.selector;
    assert.throws(() => new Deployment(deployment).validate());
  });

  it('runs every service once, each with health probes', () => {
    for (const name of services)
      assert.equal(workloads().filter((o) => containers(o).some((c) => runs(name).test(c.command?.join(' ') ?? ''))).length, 1, `one workload runs ${name}`);
    for (const workload of workloads()) {
      for (const container of workload.spec.template.spec.containers) {
        assert.ok(container.readinessProbe && container.livenessProbe, `${workload.metadata.name}/${container.name} has readiness and liveness probes`);
      }
    }
  });

  it('pins every image and pulls it only when missing', () => {
    for (const workload of workloads()) {
      for (const container of containers(workload)) {
        assert.match(
          container.image,
          /^[^:@]+(:[0-9][\w.-]*|@sha256:[0-9a-f]{64})$/,
          `${workload.metadata.name}/${container.name}: ${container.image} has an exact version`,
        );
        assert.equal(container.imagePullPolicy, 'IfNotPresent', `${workload.metadata.name}/${container.name}`);
      }
    }
  });

  it('takes secrets only from the generator: no placeholder Secret in the manifests', () => {
    const secrets = ofKind('Secret');
    const natsIdentities = services.map((name) => `nats-${name}`);
    assert.deepEqual(
      secrets.map((s) => s.metadata.name.replace(/-[a-z0-9]{10}$/, '')).sort(),
      ['drachtio', ...natsIdentities, 'nats-cluster', 'storage-s3', 'voicemail-smtp', 'web'].sort(),
    );
    const drachtio = secrets.find((s) => s.metadata.name.startsWith('drachtio-'));
    assert.ok(Buffer.from(drachtio.data.DRACHTIO_SECRET, 'base64').length >= 32, 'a generated drachtio secret');
  });

  it('runs a node as one pod that drains at preStop: signaling and media stop taking calls and wait for theirs, drachtio and rtpengine outlive them', () => {
    const workloads = ofKind('DaemonSet');
    assert.deepEqual(
      workloads.map((o) => o.metadata.name),
      ['node'],
      'one DaemonSet: a node is drained and upgraded as one',
    );
    const pod = workloads[0].spec.template.spec;
    const byName = Object.fromEntries(pod.containers.map((c) => [c.name, c]));
    assert.deepEqual(Object.keys(byName).sort(), ['drachtio', 'media', 'rtpengine', 'signaling']);
    const waits = {};
    for (const [name, port] of [
      ['signaling', '9104'],
      ['media', '9102'],
    ]) {
      const hook = byName[name].lifecycle?.preStop?.exec?.command ?? [];
      assert.deepEqual(
        hook.slice(0, 4),
        ['node', 'packages/service/dist/drain-hook.js', '--port', port],
        `${name}'s preStop drains it through its health port`,
      );
      waits[name] = Number(hook[hook.indexOf('--wait-seconds') + 1]);
      assert.ok(
        waits[name] >= MAX_MESSAGE_S + 60,
        `${name} waits ${waits[name]} s for its calls: a ${MAX_MESSAGE_S} s message, its greeting and the hand-over`,
      );
      assert.deepEqual(envOf(byName[name]).INSTANCE_ID, { fieldRef: { fieldPath: 'spec.nodeName' } }, `${name}'s instance id is its node's name`);
      assert.deepEqual(envOf(byName[name]).MEDIA_NODE, { fieldRef: { fieldPath: 'spec.nodeName' } }, `${name}'s media node is its node`);
    }
    assert.match(byName.drachtio.lifecycle.preStop.exec.command.join(' '), /\/dev\/tcp\/127\.0\.0\.1\/9104/, "drachtio waits for signaling's exit");
    assert.deepEqual(byName.rtpengine.lifecycle.preStop.exec.command, ['rtpengine-drain']);
    assert.equal(envOf(byName.rtpengine).MEDIA_HEALTH_PORT, '9102', "rtpengine waits for media's exit");
    // The hooks, then SIGTERM's own shutdown, all within the grace period.
    const signalingStop =
      Number(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('signaling-config-')).data.SHUTDOWN_TIMEOUT_MS) / 1000;
    const mediaStop = Number(envOf(byName.media).SHUTDOWN_TIMEOUT_MS) / 1000;
    assert.ok(
      waits.signaling + signalingStop < pod.terminationGracePeriodSeconds,
      `signaling: ${waits.signaling} s + ${signalingStop} s within ${pod.terminationGracePeriodSeconds} s`,
    );
    assert.ok(
      waits.media + mediaStop < pod.terminationGracePeriodSeconds,
      `media: ${waits.media} s + ${mediaStop} s within ${pod.terminationGracePeriodSeconds} s`,
    );
    assert.ok(Number(envOf(byName.rtpengine).DRAIN_SECONDS) < pod.terminationGracePeriodSeconds);
    assert.deepEqual(pod.nodeSelector, { 'sipvm.io/sip': 'true', 'sipvm.io/media': 'true' });
  });

  it('rolls every shared service one new instance at a time, each ready before an old one stops', () => {
    for (const name of ['storage', 'voicemail', 'voicebox', 'web']) {
      const deployment = named('Deployment', name);
      assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, name);
      const stop =
        Number(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${name}-config-`))?.data.SHUTDOWN_TIMEOUT_MS ?? 20_000) / 1000;
      assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds > stop, `${name}: grace covers its ${stop} s shutdown`);
    }
  });

  it('generates every ConfigMap with a hash of its content, so a changed value rolls the pods that read it', () => {
    const maps = ofKind('ConfigMap');
    for (const map of maps) assert.match(map.metadata.name, /-[a-z0-9]{10}$/, `${map.metadata.name} is generated (kustomization.yaml configMapGenerator)`);
    const names = new Set(maps.map((m) => m.metadata.name));
    for (const workload of workloads()) {
      const pod = workload.spec.template.spec;
      const referenced = [
        ...containers(workload).flatMap((c) => (c.envFrom ?? []).map((e) => e.configMapRef?.name).filter(Boolean)),
        ...pod.volumes.flatMap((v) => [v.configMap?.name, ...(v.projected?.sources ?? []).map((p) => p.configMap?.name)]).filter(Boolean),
      ];
      for (const name of referenced) assert.ok(names.has(name), `${workload.metadata.name} reads ConfigMap ${name}, which is rendered`);
    }
  });

  it("tags the platform's image with the package version", () => {
    for (const workload of workloads()) {
      for (const container of containers(workload).filter((c) => c.image.startsWith('sipvm/platform')))
        assert.equal(container.image, `sipvm/platform:${VERSION}`);
    }
  });

  it('keeps recordings in progress in a node-local folder that rtpengine and media share as one uid', () => {
    const pod = named('DaemonSet', 'node').spec.template.spec;
    const volume = pod.volumes.find((v) => v.name === 'recordings');
    assert.ok(volume.hostPath?.path, 'a hostPath folder');
    for (const name of ['rtpengine', 'media']) {
      const container = pod.containers.find((c) => c.name === name);
      assert.ok(
        container.volumeMounts.some((m) => m.name === 'recordings' && m.mountPath === '/var/spool/rtpengine'),
        `${name} mounts it`,
      );
      assert.equal(container.securityContext?.runAsUser ?? pod.securityContext.runAsUser, 1000, `${name} runs as uid 1000`);
    }
    assert.ok(
      pod.initContainers.some((c) => c.volumeMounts.some((m) => m.name === 'recordings') && /chown 1000:1000/.test(c.command.join(' '))),
      'the folder is handed to uid 1000',
    );
  });

  it('runs NATS as a three-server cluster and creates every stream and KV bucket with three replicas', () => {
    const nats = named('StatefulSet', 'nats');
    assert.equal(nats.spec.replicas, 3);
    assert.ok(nats.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, 'one server per node');
    const conf = ofKind('ConfigMap').find((o) => o.metadata.name.startsWith('nats-config-')).data['nats.conf'];
    const routes = Buffer.from(ofKind('Secret').find((o) => o.metadata.name.startsWith('nats-cluster-')).data['routes.conf'], 'base64').toString();
    assert.equal(
      [...routes.matchAll(/nats:\/\/sipvm-route:[0-9a-f]{64}@nats-\d\.nats-cluster:6222/g)].length,
      3,
      'routes to all three servers, with the route password',
    );
    assert.match(routes, /^authorization \{ user: sipvm-route, password: "[0-9a-f]{64}"/m);
    assert.match(conf, /max_payload: 1MB/);
    assert.equal(ofKind('ConfigMap').find((o) => o.metadata.name.startsWith('platform-config-')).data.JETSTREAM_REPLICAS, '3');
    for (const workload of workloads().filter((o) => o.metadata.name !== 'nats')) {
      const app = workload.spec.template.spec.containers.find((c) => c.image.startsWith('sipvm/platform'));
      assert.ok(
        app.envFrom.some((e) => e.configMapRef?.name.startsWith('platform-config-')),
        `${workload.metadata.name} reads platform-config`,
      );
    }
  });

  it('scales voicemail, voicebox and storage by CPU, keeps them and NATS available through disruptions, spreads them over nodes', () => {
    for (const name of ['voicemail', 'voicebox', 'storage']) {
      const hpa = named('HorizontalPodAutoscaler', name);
      assert.equal(hpa?.spec.scaleTargetRef.name, name, `${name} has an autoscaler`);
      assert.equal(named('Deployment', name).spec.replicas, undefined, `${name}: the autoscaler alone sets the replica count`);
      assert.ok(named('Deployment', name).spec.template.spec.affinity?.podAntiAffinity, `${name} spreads over nodes`);
    }
    for (const name of ['voicemail', 'voicebox', 'storage', 'nats']) assert.ok(named('PodDisruptionBudget', name), `${name} has a disruption budget`);
  });

  it('gives each service its own NATS identity and no other, and NATS the permissions generated from the table', () => {
    assert.equal(ofKind('ConfigMap').find((o) => o.metadata.name.startsWith('platform-config-')).data.NATS_NKEY_FILE, '/var/lib/sipvm/nats/nats.nk');
    for (const name of services) {
      const workload = workloads().find((o) => containers(o).some((c) => runs(name).test(c.command?.join(' ') ?? '')));
      const pod = workload.spec.template.spec;
      const secretsOf = (volumeNames) =>
        pod.volumes.filter((v) => volumeNames.includes(v.name) && v.secret).map((v) => v.secret.secretName.replace(/-[a-z0-9]{10}$/, ''));
      const app = containers(workload).find((c) => runs(name).test(c.command?.join(' ') ?? ''));
      const mounted = app.volumeMounts.filter((m) => m.mountPath === '/var/lib/sipvm/nats').map((m) => m.name);
      assert.deepEqual(secretsOf(mounted), [`nats-${name}`], `${name} mounts its own nkey`);
      for (const other of containers(workload).filter((c) => c !== app)) {
        assert.ok(
          !secretsOf((other.volumeMounts ?? []).map((m) => m.name)).includes(`nats-${name}`),
          `${workload.metadata.name}/${other.name} does not get ${name}'s nkey`,
        );
      }
      assert.equal(pod.securityContext.fsGroup, 1000, `${name}: uid 1000 may read the key (0440, group fsGroup)`);
    }
    const shipped = readFileSync(join(root, 'deploy', 'k8s', 'nats-permissions.conf'), 'utf8');
    const current = natsPermissionsConfig([...SERVICE_IDENTITIES.filter((identity) => identity !== 'bench'), 'admin']);
    assert.ok(
      shipped === current,
      'deploy/k8s/nats-permissions.conf is stale: node packages/service/dist/nats-credentials.js --permissions-file deploy/k8s/nats-permissions.conf',
    );
  });

  it('renders a NATS configuration nats-server accepts, authentication included', (t) => {
    if (!has('nats-server')) return t.skip('SKIPPED: nats-server is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'sipvm-k8s-nats-'));
    try {
      // As the pod's projected volume lays them out in /etc/nats (the paths in nats.conf made this folder's).
      for (const name of ['nats-config', 'nats-permissions', 'nats-keys']) {
        const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.replace(/-[a-z0-9]{10}$/, '') === name);
        for (const [file, text] of Object.entries(map.data)) writeFileSync(join(dir, file), text.replaceAll('/etc/nats/', `${dir}/`));
      }
      mkdirSync(join(dir, 'cluster'));
      const cluster = ofKind('Secret').find((o) => o.metadata.name.startsWith('nats-cluster-'));
      for (const [file, data] of Object.entries(cluster.data)) writeFileSync(join(dir, 'cluster', file), Buffer.from(data, 'base64'));
      const check = spawnSync('nats-server', ['-t', '-c', join(dir, 'nats.conf')], { encoding: 'utf8', env: { ...process.env, SERVER_NAME: 'nats-0' } });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
      // The route certificate is the cluster CA's and names every server.
      const cert = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'cluster', 'ca.crt'), join(dir, 'cluster', 'tls.crt')], { encoding: 'utf8' });
      assert.equal(cert.status, 0, cert.stderr);
      const names = spawnSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(dir, 'cluster', 'tls.crt')], { encoding: 'utf8' }).stdout;
      assert.match(names, /DNS:\*\.nats-cluster\b/);
      assert.match(readFileSync(join(dir, 'nats.conf'), 'utf8'), /include \.\/permissions\.conf/);
      assert.equal(
        [...readFileSync(join(dir, 'keys.conf'), 'utf8').matchAll(/^NKEY_[A-Z]+: "U[A-Z2-7]{55}"$/gm)].length,
        services.length + 1,
        'a key per service and admin',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets only NATS servers reach the route port, and clients only from the namespace and the nodes', () => {
    const policy = named('NetworkPolicy', 'nats');
    assert.deepEqual(policy.spec.podSelector.matchLabels, { 'app.kubernetes.io/name': 'nats' });
    const byPort = (port) => policy.spec.ingress.filter((rule) => rule.ports.some((p) => p.port === port));
    assert.deepEqual(
      byPort(6222).flatMap((rule) => rule.from),
      [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats' } } }],
    );
    const clients = byPort(4222).flatMap((rule) => rule.from);
    assert.equal(clients.filter((peer) => peer.ipBlock).length, 1, "the nodes' CIDR is the one value to set");
    assert.ok(
      clients.every((peer) => peer.ipBlock || (peer.podSelector && !peer.namespaceSelector)),
      'clients from this namespace and the nodes only',
    );
  });

  it('trusts no broad range as SIP proxies, and refuses strangers by default', () => {
    const config = ofKind('ConfigMap').find((o) => o.metadata.name.startsWith('signaling-config-')).data;
    for (const entry of config.TRUSTED_PROXIES.split(',')) {
      const bits = Number(entry.split('/')[1] ?? 32);
      assert.ok(bits >= 24, `TRUSTED_PROXIES has ${entry}: list the proxies, not a network`);
    }
    assert.equal(config.UNTRUSTED_CALLS, 'refuse');
    assert.equal(config.UNTRUSTED_APP_HEADERS, 'refuse');
  });
});
