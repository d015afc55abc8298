/**
 * The signaling rig for end-to-end tests: a real nats-server, a real drachtio-server, the
 * signaling service as a process (its dist/main.js), the real media service with a real
 * rtpengine (or, where a test needs media to answer late, the FAKE responder of media-fake.ts),
 * and, when asked, the real storage service. Everything on loopback with free ports.
 */
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { NatsConnection } from '@nats-io/nats-core';
import { SUBJECTS } from '@sipvm/contracts';
import {
  drachtioMissingReason,
  freeTcpUdpPort,
  prerequisite,
  REPO_ROOT,
  startRtpengine,
  type RtpengineProcess,
  runSipp,
  sippMissingReason,
  startDrachtio,
  startNats,
  startService,
  tempDir,
  waitFor,
  type DrachtioServer,
  type NatsServer,
  type RunningServiceProcess,
  type SippOptions,
  type SippResult,
} from '@sipvm/harness';
import { startApplicationsFake } from './application-fake.js';
import { startMediaResponderFake, type MediaResponderFake } from './media-fake.js';

export const SCENARIOS = join(REPO_ROOT, 'test', 'sip', 'scenarios');

/** Why the SIP end-to-end tests cannot run here (skipped loudly; a failure in CI), or undefined. */
export function e2eSkipReason(): string | undefined {
  return prerequisite('SIP end-to-end tests', drachtioMissingReason() ?? sippMissingReason());
}

/** A request to media seen on the wire (every NATS subscriber sees it, the service answers it). */
export interface MediaRequestSeen {
  subject: string;
  request: { callRef?: string; callId?: string; sdpOffer?: string; playbackId?: string };
}

export interface CallEventSeen {
  subject: string;
  event: Record<string, unknown>;
}

export interface SignalingRig {
  nats: NatsServer;
  drachtio: DrachtioServer;
  signaling: RunningServiceProcess;
  storage: RunningServiceProcess | undefined;
  /** The storage service's folder (its local backend), when it runs. */
  storageDir: string | undefined;
  /** rtpengine behind the real media service (undefined with the fake). */
  rtpengine: RtpengineProcess | undefined;
  nc: NatsConnection;
  /** The fake, when the rig runs with `media: 'fake'`. */
  mediaFake: MediaResponderFake | undefined;
  /** Every request to media (open, update, close, …), whoever answers them. */
  mediaRequests: MediaRequestSeen[];
  /** Every call event published so far. */
  events: CallEventSeen[];
  /** host:port of drachtio-server's SIP side. */
  target: string;
  sipp(scenario: string, options?: Partial<SippOptions>): Promise<SippResult>;
  /** The signaling service again (e.g. after stopping it), on the rig's drachtio-server. */
  restartSignaling(): Promise<void>;
  /** Stops the storage service (`startStorage` brings it back with the same folder). */
  stopStorage(): Promise<void>;
  startStorage(): Promise<void>;
  /** Another signaling instance with its own drachtio-server on the same NATS (another node). */
  addNode(env?: Record<string, string>): Promise<{ drachtio: DrachtioServer; signaling: RunningServiceProcess }>;
  waitForEvent(predicate: (e: CallEventSeen) => boolean, what: string, timeoutMs?: number): Promise<CallEventSeen>;
  /** Waits for a condition; on timeout the error carries the logs of signaling and drachtio. */
  waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** The tails of the signaling and drachtio-server logs, for failure messages. */
  explain(): string;
  stop(): Promise<void>;
}

export interface RigOptions {
  /**
   * The real media service with rtpengine (default), or the fake that can answer late (also the
   * cheap choice where no call needs audio: signaling is ready only while some media answers).
   */
  media?: 'real' | 'fake';
  /** Start the real storage service too. */
  storage?: boolean;
  /** rtpengine's port range (4 per call at once); default 40. */
  rtpPorts?: number;
  /** drachtio-server's log level: `info` (every SIP message; the default here) or `notice` as in production. */
  drachtioLogLevel?: 'info' | 'notice';
  /**
   * `fake`: a stand-in takes every call (application-fake.ts), for tests of signaling alone;
   * `none` (default): the test starts the real applications it needs, or wants calls nobody takes.
   */
  applications?: 'fake' | 'none';
  /** More environment of the real media service (its prompt folders, say). */
  mediaEnv?: Record<string, string>;
  /** More environment of the storage service. */
  storageEnv?: Record<string, string>;
}

export async function startSignalingRig(env: Record<string, string> = {}, options: RigOptions = {}): Promise<SignalingRig> {
  const nats = await startNats();
  const drachtio = await startDrachtio({ logLevel: options.drachtioLogLevel ?? 'info' });
  const dir = await tempDir('e2e');
  const storageEnv = { NATS_URL: nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path, ...options.storageEnv };
  const storage = options.storage ? await startService('storage', storageEnv) : undefined;
  const nc = await nats.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const mediaRequests: MediaRequestSeen[] = [];
  nc.subscribe('vm.media.>', {
    callback: (_err, msg) => {
      mediaRequests.push({ subject: msg.subject, request: msg.json<MediaRequestSeen['request']>() });
    },
  });
  let rtpengine: RtpengineProcess | undefined;
  let mediaService: RunningServiceProcess | undefined;
  let mediaFake: MediaResponderFake | undefined;
  if (options.media === 'fake') {
    mediaFake = startMediaResponderFake(nc);
  } else {
    const dtmfPort = await freeTcpUdpPort(); // media listens on UDP
    rtpengine = await startRtpengine({ dtmfLogDest: { host: '127.0.0.1', port: dtmfPort }, ports: options.rtpPorts ?? 40 });
    mediaService = await startService(
      'media',
      {
        NATS_URL: nats.url,
        RTPENGINE_NG: rtpengine.ng,
        RTPENGINE_RECORDING_DIR: rtpengine.recordingDir,
        MEDIA_PLAY_DIR: rtpengine.playDir,
        MEDIA_DTMF_LISTEN: `127.0.0.1:${dtmfPort}`,
        INSTANCE_ID: 'media-e2e',
        ...options.mediaEnv,
      },
      // The first start on a machine builds the prompt set.
      { timeoutMs: 180_000 },
    );
  }
  const applicationsFake = options.applications === 'fake' ? startApplicationsFake(nc) : undefined;
  const events: CallEventSeen[] = [];
  nc.subscribe(SUBJECTS.call.all, {
    callback: (_err, msg) => {
      events.push({ subject: msg.subject, event: msg.json<Record<string, unknown>>() });
    },
  });
  await nc.flush();
  const startSignaling = (server: DrachtioServer, more: Record<string, string> = {}) =>
    startService('signaling', {
      NATS_URL: nats.url,
      DRACHTIO_HOST: server.admin.host,
      DRACHTIO_PORT: String(server.admin.port),
      DRACHTIO_SECRET: server.admin.secret,
      SHUTDOWN_TIMEOUT_MS: '5000',
      ...env,
      ...more,
    });
  const signaling = await startSignaling(drachtio);
  const others: { stop(): Promise<void> }[] = [];
  const target = `127.0.0.1:${drachtio.sipPort}`;
  const rig: SignalingRig = {
    nats,
    drachtio,
    signaling,
    storage,
    storageDir: storage ? dir.path : undefined,
    rtpengine,
    nc,
    mediaFake,
    mediaRequests,
    events,
    target,
    async restartSignaling() {
      await rig.signaling.stop();
      rig.signaling = await startSignaling(drachtio);
    },
    async stopStorage() {
      await rig.storage?.stop();
    },
    async startStorage() {
      rig.storage = await startService('storage', storageEnv);
    },
    async addNode(more = {}) {
      const server = await startDrachtio();
      const instance = await startSignaling(server, more);
      others.push(instance, { stop: () => server.close() });
      return { drachtio: server, signaling: instance };
    },
    sipp: (scenario, more = {}) =>
      runSipp({
        scenario: join(SCENARIOS, scenario),
        target,
        timeoutSeconds: 20,
        ...more,
        keys: { app_name: '', app_param: '', ruri_params: '', session_expires: '1800', ...more.keys },
      }),
    async waitForEvent(predicate, what, timeoutMs = 10_000) {
      let found: CallEventSeen | undefined;
      await rig.waitFor(() => (found = events.find(predicate)) !== undefined, what, timeoutMs);
      return found as CallEventSeen;
    },
    async waitFor(check, what, timeoutMs = 10_000) {
      try {
        await waitFor(check, timeoutMs, what);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${rig.explain()}`);
      }
    },
    explain() {
      return [
        `--- signaling ---\n${rig.signaling.output().slice(-5000)}`,
        `--- drachtio ---\n${drachtio.output().slice(-4000)}`,
        ...(mediaService ? [`--- media ---\n${mediaService.output().slice(-3000)}`] : []),
      ].join('\n');
    },
    async stop() {
      mediaFake?.stop();
      applicationsFake?.stop();
      await nc.close().catch(() => undefined);
      await rig.signaling.stop();
      for (const other of others) await other.stop();
      await mediaService?.stop();
      await rtpengine?.close();
      await rig.storage?.stop();
      await drachtio.close();
      await nats.close();
      await dir.remove();
    },
  };
  return rig;
}

/**
 * A rig for the enclosing describe(): started before its tests, stopped after them. The object
 * returned stands for the rig (it forwards to the one started), so tests use it directly.
 * `env` may be computed when the rig starts (e.g. from a port chosen then).
 */
export function useSignalingRig(env: Record<string, string> | (() => Promise<Record<string, string>>) = {}, options: RigOptions = {}): SignalingRig {
  let current: SignalingRig | undefined;
  before(async () => {
    current = await startSignalingRig(typeof env === 'function' ? await env() : env, options);
  });
  after(async () => {
    await current?.stop();
  });
  return new Proxy({} as SignalingRig, {
    get: (_target, property) => {
      if (!current) throw new Error('the signaling rig is not started (use it inside tests)');
      return Reflect.get(current, property) as unknown;
    },
  });
}

/** The status line of each SIP response in a sipp trace, e.g. ["100 Trying", "404 Unknown …"]. */
export function responsesIn(messages: string): string[] {
  return [...messages.matchAll(/^SIP\/2\.0 (\d{3} [^\r\n]*)/gm)].map((m) => m[1] ?? '');
}

/** Explains a failed sipp run: its exit code, errors and trace. */
export function sippReport(result: SippResult, rig?: SignalingRig): string {
  return [
    `sipp exit code ${result.exitCode}`,
    `--- errors ---\n${result.errors.slice(-3000)}`,
    `--- messages ---\n${result.messages.slice(-6000)}`,
    ...(rig ? [rig.explain()] : []),
  ].join('\n');
}
