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
import { startCephRgw } from './ceph.js';
import { startDrachtio, type DrachtioServer } from './drachtio.js';
import { startKamailio, type KamailioProxy, type VoicemailProfile } from './kamailio.js';
import { startNatsCluster, type NatsCluster } from './nats.js';
import { freePort } from './ports.js';
import { startRtpengine, type RtpengineProcess } from './rtpengine.js';
import type { S3Server } from './s3.js';
import { startService, type RunningServiceProcess } from './service.js';
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
}

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
    const [nats, s3] = await Promise.all([
      startNatsCluster(natsCount),
      options.storage === 'local' ? Promise.resolve(undefined) : startCephRgw(),
    ]);
    stops.push(() => nats.close().catch((error: unknown) => void (refusedByNats = error)));
    if (s3) stops.push(() => s3.close());
    const natsEnv = { NATS_URL: nats.url, JETSTREAM_REPLICAS: String(Math.min(3, natsCount)), LOG_LEVEL: options.logLevel ?? 'warn' };
    let folder: TempDir | undefined;
    if (!s3) {
      folder = await tempDir('cluster-storage');
      stops.push(() => folder!.remove());
    }
    const storage = await startService('storage', { ...natsEnv, ...(s3 ? s3.env : { STORAGE_BACKEND: 'local', STORAGE_DIR: folder!.path }) });
    stops.push(() => storage.stop());
    const [voicemail, voicebox] = await Promise.all([
      startService('voicemail', { ...natsEnv, SMTP_PORT: '9', ...options.voicemailEnv }),
      startService('voicebox', { ...natsEnv, ...options.voiceboxEnv }),
    ]);
    stops.push(() => voicemail.stop(), () => voicebox.stop());

    // SIP first: the proxy's dispatcher list needs the nodes' SIP ports, the nodes its address.
    const names = Array.from({ length: options.nodes ?? 2 }, (_, i) => String.fromCharCode(97 + i));
    const drachtios = await Promise.all(names.map((_, i) => startDrachtio({ host: nodeHost(i), logLevel: 'warning' })));
    stops.push(...drachtios.map((d) => () => d.close()));
    const proxy = await startKamailio({ host: PROXY_HOST, nodes: drachtios.map((d) => `${d.host}:${d.sipPort}`), profiles: options.profiles });
    stops.push(() => proxy.close());
    const nodes: ClusterNode[] = [];
    for (const [i, name] of names.entries()) {
      const node = await startNode({ name, drachtio: drachtios[i]!, natsEnv, proxy, options });
      stops.push(() => node.stop());
      nodes.push(node);
    }
    return {
      nats,
      s3,
      storage,
      voicemail,
      voicebox,
      nodes,
      proxy,
      natsEnv,
      sharedPids: () => [
        ...nats.servers.map((server) => ({ role: 'nats-server', pid: server.pid() })),
        { role: 'storage', pid: storage.pid },
        { role: 'voicemail', pid: voicemail.pid },
        { role: 'voicebox', pid: voicebox.pid },
        { role: 'kamailio', pid: proxy.pid() },
        ...(s3?.pids?.() ?? []),
      ],
      explain: () =>
        [
          ...nodes.flatMap((n) => [`--- signaling-${n.name} ---\n${tailOf(n.signaling.output())}`, `--- media-${n.name} ---\n${tailOf(n.media.output())}`]),
          `--- voicemail ---\n${tailOf(voicemail.output())}`,
          `--- storage ---\n${tailOf(storage.output())}`,
          `--- kamailio ---\n${tailOf(proxy.output())}`,
        ].join('\n'),
      async close() {
        await closeAll();
        if (refusedByNats) throw refusedByNats;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function startNode(o: { name: string; drachtio: DrachtioServer; natsEnv: Record<string, string>; proxy: KamailioProxy; options: ClusterOptions }): Promise<ClusterNode> {
  const { name, drachtio, natsEnv, proxy, options } = o;
  const host = drachtio.host;
  const mediaNode = `node-${name}`;
  const dtmfPort = await freePort(host);
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
    MWI_PROXY: `sip:${proxy.target}`,
    ...options.signalingEnv,
  };
  let generation = 1;
  const startMedia = () => startService('media', { ...mediaEnv, INSTANCE_ID: `media-${name}${generation > 1 ? `-${generation}` : ''}` }, { timeoutMs: 180_000 });
  const node: ClusterNode = {
    name,
    mediaNode,
    host,
    drachtio,
    rtpengine,
    media: await startMedia(),
    signaling: await startService('signaling', signalingEnv),
    sip: `${host}:${drachtio.sipPort}`,
    signalingInstance: `signaling-${name}`,
    async startSignaling() {
      node.signaling = await startService('signaling', signalingEnv);
    },
    async killAll() {
      await Promise.all([drachtio.kill(), node.signaling.kill(), node.media.kill(), rtpengine.kill()]);
    },
    async restart() {
      generation++;
      await Promise.all([rtpengine.start(), drachtio.start()]);
      node.media = await startMedia();
      node.signaling = await startService('signaling', signalingEnv);
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

function tailOf(text: string, chars = 3_000): string {
  return text.slice(-chars);
}
