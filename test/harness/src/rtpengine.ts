/**
 * A real rtpengine (Debian `rtpengine-daemon`) for tests, never the system service: userspace only
 * (`table = -1`), pcap recording into a folder of the test, DTMF reports to the media service,
 * the ng port and an RTP port range on loopback, configured by a file the test writes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeTcpUdpPort, udpFree } from './ports.js';
import { startRestartable, type Restartable } from './process.js';
import { tempDir } from './tmp.js';

export const RTPENGINE_BIN = process.env.RTPENGINE_BIN ?? 'rtpengine';

export interface RtpengineOptions {
  /** Where rtpengine sends DTMF reports (the media service's MEDIA_DTMF_LISTEN). */
  dtmfLogDest: { host: string; port: number };
  /** RTP ports to reserve: each call takes 4. Default 400. */
  ports?: number;
  /** The loopback address for RTP and ng (a node of a cluster test, e.g. 127.0.1.1); default 127.0.0.1. */
  host?: string;
}

export interface RtpengineProcess {
  /** ng control address, host:port (RTPENGINE_NG of the media service). */
  readonly ng: string;
  readonly ngPort: number;
  /** rtpengine's recording-dir (RTPENGINE_RECORDING_DIR); pcaps/ is below it. */
  readonly recordingDir: string;
  /** A folder of the test both rtpengine and media can read (MEDIA_PLAY_DIR). */
  readonly playDir: string;
  readonly portRange: { min: number; max: number };
  output(): string;
  /** Stops it, keeping its folders, so `start()` brings it back on the same ports. */
  stop(): Promise<void>;
  /** SIGKILL: a crash (the pcaps written so far stay). */
  kill(): Promise<void>;
  start(): Promise<void>;
  pid(): number | undefined;
  /** Stops it for good and removes its folders. */
  close(): Promise<void>;
}

/** A range of `count` UDP ports that are free now (sampled), at a random place above 20000. */
async function portRange(count: number, host: string): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20_000 + 2 * Math.floor((Math.random() * (40_000 - count)) / 2);
    const probes = [min, min + 1, Math.floor(min + count / 2), min + count - 1];
    if ((await Promise.all(probes.map((port) => udpFree(port, host)))).every(Boolean)) return { min, max: min + count - 1 };
  }
  throw new Error('no free UDP port range for rtpengine');
}

export async function startRtpengine(options: RtpengineOptions): Promise<RtpengineProcess> {
  const dir = await tempDir('rtpengine');
  const recordingDir = join(dir.path, 'recordings');
  const playDir = join(dir.path, 'play');
  await mkdir(recordingDir, { recursive: true });
  await mkdir(playDir, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const config = join(dir.path, 'rtpengine.conf');
  // The ports are free when picked, but another test's rtpengine may bind one of them before this
  // one does (its RTP ports come and go with its calls): a port found taken is picked again.
  for (let attempt = 1; ; attempt++) {
    const ngPort = await freeTcpUdpPort(host);
    const range = await portRange(options.ports ?? 400, host);
    await writeFile(
      config,
      [
        '[rtpengine]',
        'table = -1',
        `interface = ${host}`,
        `listen-ng = ${host}:${ngPort}`,
        `port-min = ${range.min}`,
        `port-max = ${range.max}`,
        `recording-dir = ${recordingDir}`,
        'recording-method = pcap',
        'recording-format = raw',
        `dtmf-log-dest = ${options.dtmfLogDest.host}:${options.dtmfLogDest.port}`,
        'delete-delay = 0',
        'log-level = 6',
        'log-stderr = true',
        'foreground = true',
        '',
      ].join('\n'),
    );
    let server: Restartable;
    try {
      server = await startRestartable(
        {
          name: 'rtpengine',
          command: RTPENGINE_BIN,
          args: [`--config-file=${config}`, '--config-section=rtpengine', `--pidfile=${join(dir.path, 'rtpengine.pid')}`],
          // A core file, should rtpengine dump one, lands in its temporary folder, not in the checkout.
          cwd: dir.path,
          ready: (output) => output().includes('Startup complete'),
        },
        dir,
      );
    } catch (error) {
      if (attempt < 5 && String(error).includes('Address already in use')) continue;
      throw error;
    }
    return {
      ng: `${host}:${ngPort}`,
      ngPort,
      recordingDir,
      playDir,
      portRange: range,
      output: server.output,
      start: server.start,
      stop: server.stop,
      kill: server.kill,
      pid: server.pid,
      close: server.close,
    };
  }
}
