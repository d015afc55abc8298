/**
 * The platform scaled out behind a proxy, on one machine: Kamailio (deploy/kamailio/) in front of
 * N nodes, each with its own drachtio-server, signaling, rtpengine and media on a loopback address
 * of its own (127.0.1.1, 127.0.1.2, …: Linux routes all of 127/8 to `lo`, so no alias and no
 * privilege is needed), and the shared part: voicemail, voicebox and storage, a NATS cluster with
 * replicated streams and KV, and S3 (Ceph RGW) or a local folder. The cluster test and the
 * cluster benchmark both start it.
 *
 * Addresses rather than network namespaces: what the proxy and the nodes must tell apart is each
 * node's SIP and RTP address, and a crash of a node is the death of its processes; namespaces would
 * add root, veth pairs and routing without changing either.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCephRgw } from './ceph.js';
import { startDrachtio, type DrachtioServer } from './drachtio.js';
import { startKamailio, type KamailioProxy, type VoicemailProfile } from './kamailio.js';
import { startNatsCluster, type NatsCluster } from './nats.js';
import { freePort, freeTcpUdpPort } from './ports.js';
import { waitFor } from './process.js';
import { startRtpengine, type RtpengineProcess } from './rtpengine.js';
import type { S3Server } from './s3.js';
import { REPO_ROOT, startService, type RunningServiceProcess } from './service.js';
import { makeTestPki } from './tls.js';
import { tempDir, type TempDir } from './tmp.js';

export interface ClusterOptions {
  /** How many SIP/media nodes; default 2. */
  nodes?: number;
  /** NATS servers (clustered, JetStream replicas as many, at most 3); default 3. */
  natsServers?: number;
  /** Where storage keeps messages: Ceph RGW (S3) or a local folder; default ceph. */
  storage?: 'ceph' | 'local';
  profiles: VoicemailProfile[];
  /** RTP ports per node's rtpengine (4 per call at once); default 400. */
  rtpPorts?: number;
  /** Added to every node's signaling (e.g. SHUTDOWN_TIMEOUT_MS). */
  signalingEnv?: Record<string, string>;
  /** Added to the voicebox service. */
  voiceboxEnv?: Record<string, string>;
  /** Added to the voicemail service (e.g. VM_DEPOSIT_CONCURRENCY). */
  voicemailEnv?: Record<string, string>;
  /** Log level of the platform's services; default warn (info for the nodes' signaling). */
  logLevel?: string;
  /**
   * Nodes (by name: a, b, …) the proxy reaches over SIP over TLS (their dispatcher entries say
   * `sip:…;transport=tls`). With any, Kamailio listens on TLS too and every node sends its MWI
   * NOTIFYs there (from an ephemeral port, as TCP and TLS do).
   */
  tlsNodes?: string[];
  /** More dispatcher entries, disabled until a test enables them (e.g. a node that fails calls). */
  moreDispatcherEntries?: string[];
  /** Runs the web service too, with this env (e.g. WEBHOOK_URL). */
  webEnv?: Record<string, string>;
}

/** The shared services, each one instance that a rolling upgrade replaces (`rollService`). */
export type SharedService = 'storage' | 'voicemail' | 'voicebox' | 'web';

export interface ClusterNode {
  /** a, b, …: the node is node-<name>, its services signaling-<name> and media-<name>. */
  readonly name: string;
  readonly mediaNode: string;
  readonly host: string;
  readonly drachtio: DrachtioServer;
  readonly rtpengine: RtpengineProcess;
  media: RunningServiceProcess;
  signaling: RunningServiceProcess;
  /** host:port of its SIP side (the proxy's dispatcher entry). */
  readonly sip: string;
  readonly signalingInstance: string;
  /** Starts (again) the node's signaling, e.g. after a drain. */
  startSignaling(): Promise<void>;
  /**
   * This node's turn in a rolling upgrade, as the node pod (deploy/k8s/node.yaml) is replaced: the
   * preStop hooks of signaling and media begin draining at once and wait until their calls are
   * over, then each process gets SIGTERM (drachtio-server after signaling, rtpengine after media),
   * and the new pod starts with the same instance ids (the node's name), addresses and folders.
   * Resolves when the new node is ready; returns how long the drain took.
   */
  roll(): Promise<{ drainedMs: number }>;
  /** kill -9 of everything on the node: drachtio-server, signaling, media, rtpengine. */
  killAll(): Promise<void>;
  /**
   * Brings a crashed node back like its supervisor would: the same addresses, ports and folders
   * (the recordings rtpengine was writing are still there), media under a new instance id.
   */
  restart(): Promise<void>;
  /** Process ids of the node's processes by role, for CPU figures. */
  pids(): { role: string; pid: number | undefined }[];
  stop(): Promise<void>;
}

export interface Cluster {
  readonly nats: NatsCluster;
  readonly s3: S3Server | undefined;
  readonly storage: RunningServiceProcess;
  readonly voicemail: RunningServiceProcess;
  readonly voicebox: RunningServiceProcess;
  readonly nodes: ClusterNode[];
  readonly proxy: KamailioProxy;
  /** The web service, when `webEnv` asked for it. */
  readonly web: RunningServiceProcess | undefined;
  /**
   * A shared service's turn in a rolling upgrade, as a Deployment with maxSurge 1 and
   * maxUnavailable 0 does it: a new instance starts and is ready, then the old one gets SIGTERM
   * and finishes what it holds.
   */
  rollService(name: SharedService): Promise<void>;
  /** Env of a process that talks to the cluster's NATS (the test's own client uses `nats.url`). */
  readonly natsEnv: Record<string, string>;
  /** Process ids of the shared processes by role. */
  sharedPids(): { role: string; pid: number | undefined }[];
  /** The last lines of every process, for a failure report. */
  explain(): string;
  /** Stops everything; fails when NATS refused any client a subject (as `startNats`'s close does). */
  close(): Promise<void>;
}

const PROXY_HOST = '127.0.1.100';
const nodeHost = (index: number) => `127.0.1.${index + 1}`;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const stops: (() => Promise<void>)[] = [];
  /** What NATS refused a client (a rule missing from the permission table), found as it closes. */
  let refusedByNats: unknown;
  const closeAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const natsCount = options.natsServers ?? 3;
    const [nats, s3] = await Promise.all([startNatsCluster(natsCount), options.storage === 'local' ? Promise.resolve(undefined) : startCephRgw()]);
    stops.push(() => nats.close().catch((error: unknown) => void (refusedByNats = error)));
    if (s3) stops.push(() => s3.close());
    const natsEnv = { NATS_URL: nats.url, JETSTREAM_REPLICAS: String(Math.min(3, natsCount)), LOG_LEVEL: options.logLevel ?? 'warn' };
    let folder: TempDir | undefined;
    if (!s3) {
      folder = await tempDir('cluster-storage');
      stops.push(() => folder!.remove());
    }
    const sharedEnv: Record<SharedService, Record<string, string>> = {
      storage: { ...natsEnv, ...(s3 ? s3.env : { STORAGE_BACKEND: 'local', STORAGE_DIR: folder!.path }) },
      voicemail: { ...natsEnv, SMTP_PORT: '9', ...options.voicemailEnv },
      voicebox: { ...natsEnv, ...options.voiceboxEnv },
      // Every instance of web the same secrets, as a Deployment's pods share their Secret.
      web: {
        ...natsEnv,
        WEB_HOST: '127.0.0.1',
        WEB_OPERATOR_KEY: randomBytes(32).toString('hex'),
        WEB_TOKEN_SECRET: randomBytes(32).toString('hex'),
        ...options.webEnv,
      },
    };
    // Each instance of web its own API port (in Kubernetes each pod has its own address).
    const startShared = async (name: SharedService) =>
      startService(name, name === 'web' ? { ...sharedEnv.web, WEB_PORT: String(await freePort()) } : sharedEnv[name]);
    // The instances running now: a rolling upgrade replaces them (rollService).
    const shared: Partial<Record<SharedService, RunningServiceProcess>> = {};
    stops.push(async () => {
      for (const service of Object.values(shared)) await service.stop();
    });
    shared.storage = await startShared('storage');
    [shared.voicemail, shared.voicebox, shared.web] = await Promise.all([
      startShared('voicemail'),
      startShared('voicebox'),
      options.webEnv ? startShared('web') : Promise.resolve(undefined),
    ]);

    // SIP over TLS: one certificate (the CA's) for the proxy and every node, by their addresses.
    const names = Array.from({ length: options.nodes ?? 2 }, (_, i) => String.fromCharCode(97 + i));
    let tls: { certFile: string; keyFile: string; caFile: string } | undefined;
    if ((options.tlsNodes ?? []).length > 0) {
      const pkiDir = await tempDir('cluster-pki');
      stops.push(() => pkiDir.remove());
      const pki = makeTestPki(pkiDir.path, [PROXY_HOST, ...names.map((_, i) => nodeHost(i))]);
      tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile };
    }
    const overTls = (name: string) => tls !== undefined && (options.tlsNodes ?? []).includes(name);
    // SIP first: the proxy's dispatcher list needs the nodes' SIP ports, the nodes its address.
    // Every node can speak TLS when the proxy does (its NOTIFYs go to the proxy's TLS port); the
    // proxy reaches over TLS only the nodes in tlsNodes.
    const drachtios = await Promise.all(names.map((_, i) => startDrachtio({ host: nodeHost(i), logLevel: 'warning', ...(tls ? { tls } : {}) })));
    stops.push(...drachtios.map((d) => () => d.close()));
    const dispatcherEntry = (name: string, d: DrachtioServer) => (overTls(name) ? `${d.host}:${d.tlsPort};transport=tls` : `${d.host}:${d.sipPort}`);
    const proxy = await startKamailio({
      host: PROXY_HOST,
      nodes: names.map((name, i) => dispatcherEntry(name, drachtios[i]!)),
      disabledNodes: options.moreDispatcherEntries,
      profiles: options.profiles,
      ...(tls ? { tls } : {}),
    });
    stops.push(() => proxy.close());
    const nodes: ClusterNode[] = [];
    for (const [i, name] of names.entries()) {
      const node = await startNode({ name, drachtio: drachtios[i]!, sip: dispatcherEntry(name, drachtios[i]!), natsEnv, proxy, options });
      stops.push(() => node.stop());
      nodes.push(node);
    }
    // Started is not yet reachable: the proxy probed the nodes before their signaling was up, and
    // takes a node that failed its probes back only after two good ones (a phone's SUBSCRIBE
    // meanwhile gets the proxy's own 503). A cluster is returned once every node is in rotation.
    await waitFor(
      async () => {
        const states = await proxy.nodeStates();
        return nodes.every((node) => states[node.sip]?.startsWith('A'));
      },
      20_000,
      'the proxy to have every node in its rotation',
    );
    const cluster: Cluster = {
      nats,
      s3,
      get storage() {
        return shared.storage!;
      },
      get voicemail() {
        return shared.voicemail!;
      },
      get voicebox() {
        return shared.voicebox!;
      },
      get web() {
        return shared.web;
      },
      nodes,
      proxy,
      natsEnv,
      async rollService(name) {
        const old = shared[name];
        if (old === undefined) throw new Error(`the cluster runs no ${name}`);
        shared[name] = await startShared(name);
        await old.stop();
      },
      sharedPids: () => [
        ...nats.servers.map((server) => ({ role: 'nats-server', pid: server.pid() })),
        { role: 'storage', pid: cluster.storage.pid },
        { role: 'voicemail', pid: cluster.voicemail.pid },
        { role: 'voicebox', pid: cluster.voicebox.pid },
        { role: 'kamailio', pid: proxy.pid() },
        ...(s3?.pids?.() ?? []),
      ],
      explain: () =>
        [
          ...nodes.flatMap((n) => [`--- signaling-${n.name} ---\n${tailOf(n.signaling.output())}`, `--- media-${n.name} ---\n${tailOf(n.media.output())}`]),
          `--- voicemail ---\n${tailOf(cluster.voicemail.output())}`,
          `--- storage ---\n${tailOf(cluster.storage.output())}`,
          `--- kamailio ---\n${tailOf(proxy.output())}`,
        ].join('\n'),
      async close() {
        await closeAll();
        if (refusedByNats) throw refusedByNats;
      },
    };
    return cluster;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function startNode(o: {
  name: string;
  drachtio: DrachtioServer;
  sip: string;
  natsEnv: Record<string, string>;
  proxy: KamailioProxy;
  options: ClusterOptions;
}): Promise<ClusterNode> {
  const { name, drachtio, sip, natsEnv, proxy, options } = o;
  const host = drachtio.host;
  const mediaNode = `node-${name}`;
  const dtmfPort = await freeTcpUdpPort(host); // media listens on UDP
  const rtpengine = await startRtpengine({ host, dtmfLogDest: { host, port: dtmfPort }, ports: options.rtpPorts ?? 400 });
  const mediaEnv = {
    ...natsEnv,
    RTPENGINE_NG: rtpengine.ng,
    RTPENGINE_RECORDING_DIR: rtpengine.recordingDir,
    MEDIA_PLAY_DIR: rtpengine.playDir,
    MEDIA_DTMF_LISTEN: `${host}:${dtmfPort}`,
    MEDIA_SINK_HOST: host,
    MEDIA_NODE: mediaNode,
  };
  const signalingEnv = {
    ...natsEnv,
    LOG_LEVEL: options.logLevel ?? 'info',
    DRACHTIO_HOST: drachtio.admin.host,
    DRACHTIO_PORT: String(drachtio.admin.port),
    DRACHTIO_SECRET: drachtio.admin.secret,
    MEDIA_NODE: mediaNode,
    INSTANCE_ID: `signaling-${name}`,
    TRUSTED_PROXIES: proxy.host,
    // Over TLS from a node that speaks it (NOTIFYs then leave from an ephemeral port); a node
    // without a TLS transport could not send them there at all.
    MWI_PROXY: proxy.tlsPort === undefined || drachtio.tlsPort === undefined ? `sip:${proxy.target}` : `sip:${proxy.host}:${proxy.tlsPort};transport=tls`,
    ...options.signalingEnv,
  };
  let generation = 1;
  const startMedia = () =>
    startService('media', { ...mediaEnv, INSTANCE_ID: `media-${name}${generation > 1 ? `-${generation}` : ''}` }, { timeoutMs: 180_000 });
  const startNodeServices = async () => {
    await Promise.all([rtpengine.start(), drachtio.start()]);
    node.media = await startMedia();
    node.signaling = await startService('signaling', signalingEnv);
  };
  const node: ClusterNode = {
    name,
    mediaNode,
    host,
    drachtio,
    rtpengine,
    media: await startMedia(),
    signaling: await startService('signaling', signalingEnv),
    sip,
    signalingInstance: `signaling-${name}`,
    async startSignaling() {
      node.signaling = await startService('signaling', signalingEnv);
    },
    async roll() {
      const began = Date.now();
      await Promise.all([drainHook(node.signaling.httpPort), drainHook(node.media.httpPort)]);
      const drainedMs = Date.now() - began;
      await node.signaling.stop();
      await drachtio.stop();
      await node.media.stop();
      await rtpengine.stop();
      await startNodeServices();
      return { drainedMs };
    },
    async killAll() {
      await Promise.all([drachtio.kill(), node.signaling.kill(), node.media.kill(), rtpengine.kill()]);
    },
    async restart() {
      generation++;
      await startNodeServices();
    },
    pids: () => [
      { role: 'drachtio', pid: drachtio.pid() },
      { role: 'signaling', pid: node.signaling.pid },
      { role: 'media', pid: node.media.pid },
      { role: 'rtpengine', pid: rtpengine.pid() },
    ],
    async stop() {
      await node.signaling.stop();
      await node.media.stop();
      await rtpengine.close();
    },
  };
  return node;
}

const execFileAsync = promisify(execFile);
const DRAIN_HOOK = join(REPO_ROOT, 'packages', 'service', 'dist', 'drain-hook.js');

/** The preStop hook of the node pod's signaling and media containers, against a service here. */
async function drainHook(httpPort: number): Promise<void> {
  await execFileAsync(process.execPath, [DRAIN_HOOK, '--port', String(httpPort), '--wait-seconds', '200'], { timeout: 210_000 });
}

function tailOf(text: string, chars = 3_000): string {
  return text.slice(-chars);
}
