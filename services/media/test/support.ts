/**
 * What the media tests share: real nats-server, real rtpengine (userspace, pcap recording, DTMF
 * reports to media), the media service as a process, and a client that calls it as signaling and
 * the applications do, collecting the call events it publishes.
 */
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  DEFAULT_MEDIA_NODE,
  decodeJson,
  DigitEventSchema,
  MediaApi,
  openStagedAudio,
  PlaybackFinishedEventSchema,
  request,
  stagingBucket,
  SUBJECTS,
  type DigitEvent,
  type PlaybackFinishedEvent,
  type Recording,
  type StagedAudio,
} from '@sipvm/contracts';
import {
  freePort,
  RtpEndpoint,
  startNats,
  startRtpengine,
  startService,
  waitFor,
  type EndpointCodec,
  type NatsServer,
  type RtpengineProcess,
  type RunningServiceProcess,
} from '@sipvm/harness';
import { DEFAULT_PROMPTS_DIR } from '../src/config.js';
import { buildPrompts } from '../src/prompt-builder.js';
import { Rtpengine } from '../src/rtpengine.js';
import { createLogger } from '@sipvm/service';

export interface MediaRig {
  nats: NatsServer;
  rtpengine: RtpengineProcess;
  media: RunningServiceProcess;
  mediaEnv: Record<string, string>;
  nc: NatsConnection;
  digits: DigitEvent[];
  finished: PlaybackFinishedEvent[];
  startMedia(env?: Record<string, string>): Promise<RunningServiceProcess>;
  stop(): Promise<void>;
}

export const APP = 'voicemail' as const;

export async function startMediaRig(options: { ports?: number; env?: Record<string, string> } = {}): Promise<MediaRig> {
  // Built once per machine (the stamp says when it is current); the service would build it too.
  await buildPrompts(DEFAULT_PROMPTS_DIR);
  const nats = await startNats();
  const dtmfPort = await freePort();
  const rtpengine = await startRtpengine({ dtmfLogDest: { host: '127.0.0.1', port: dtmfPort }, ports: options.ports ?? 400 });
  const mediaEnv = {
    NATS_URL: nats.url,
    RTPENGINE_NG: rtpengine.ng,
    RTPENGINE_RECORDING_DIR: rtpengine.recordingDir,
    MEDIA_PLAY_DIR: rtpengine.playDir,
    MEDIA_DTMF_LISTEN: `127.0.0.1:${dtmfPort}`,
    RTPENGINE_TIMEOUT_MS: '500',
    RTPENGINE_PROBE_INTERVAL_MS: '250',
    // A stopping media instance waits this long, less 3 s, for its calls to end (the drain).
    SHUTDOWN_TIMEOUT_MS: '6000',
    INSTANCE_ID: 'media-a',
    ...options.env,
  };
  const nc = await nats.connect();
  const digits: DigitEvent[] = [];
  const finished: PlaybackFinishedEvent[] = [];
  nc.subscribe(SUBJECTS.call.digit(APP), {
    callback: (_e, msg) => {
      digits.push(decodeJson(DigitEventSchema, msg.data, 'digit'));
    },
  });
  nc.subscribe(SUBJECTS.call.playbackFinished(APP), {
    callback: (_e, msg) => {
      finished.push(decodeJson(PlaybackFinishedEventSchema, msg.data, 'playback-finished'));
    },
  });
  const rig: MediaRig = {
    nats,
    rtpengine,
    mediaEnv,
    nc,
    digits,
    finished,
    media: await startService('media', mediaEnv),
    async startMedia(env = {}) {
      return startService('media', { ...mediaEnv, ...env });
    },
    async stop() {
      await nc.close();
      await rig.media.stop();
      await rtpengine.close();
      await nats.close();
    },
  };
  return rig;
}

export const newCallRef = () => randomBytes(8).toString('hex');

export interface TestCall {
  callRef: string;
  callId: string;
  endpoint: RtpEndpoint;
  instance: string;
  codec: string;
}

/** A caller with the given codec, its media session opened like signaling does (on the node's media). */
export async function openCall(nc: NatsConnection, codec: EndpointCodec, node = DEFAULT_MEDIA_NODE): Promise<TestCall> {
  const endpoint = await RtpEndpoint.create(codec);
  const callRef = newCallRef();
  const callId = `${callRef}@test`;
  let opened;
  try {
    opened = await request(nc, MediaApi.openSession(node), { callRef, callId, app: APP, sdpOffer: endpoint.sdp() });
  } catch (error) {
    endpoint.close();
    throw error;
  }
  endpoint.setRemote(opened.sdpAnswer);
  return { callRef, callId, endpoint, instance: opened.mediaInstance, codec: opened.codec };
}

export async function readStaged(nc: NatsConnection, audio: StagedAudio): Promise<Buffer> {
  const stream = await openStagedAudio(await stagingBucket(nc), audio);
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function waitForFinished(rig: MediaRig, playbackId: string, timeoutMs = 15_000): Promise<PlaybackFinishedEvent> {
  await waitFor(() => rig.finished.some((e) => e.playbackId === playbackId), timeoutMs, `playback ${playbackId} to finish`);
  return rig.finished.find((e) => e.playbackId === playbackId)!;
}

/** The calls rtpengine holds right now (ng `list`), asked directly, not through media. */
export async function callsInRtpengine(rig: MediaRig): Promise<string[]> {
  const [host = '127.0.0.1', port] = rig.rtpengine.ng.split(':');
  const rtpengine = new Rtpengine({
    host,
    port: Number(port),
    timeoutMs: 2000,
    probeIntervalMs: 60_000,
    log: createLogger('test', 'rtpengine-list', 'silent'),
  });
  try {
    return await rtpengine.callIds();
  } finally {
    rtpengine.close();
  }
}

/** A whole recorded call: a caller with `codec` sends a tone while recorded, then hangs up. */
export async function recordTone(nc: NatsConnection, codec: EndpointCodec, hz: number, ms: number): Promise<Recording> {
  const call = await openCall(nc, codec);
  try {
    await call.endpoint.sendSilence(200);
    await request(nc, MediaApi.startRecording(call.instance), { callRef: call.callRef, maxDurationMs: 60_000 });
    await call.endpoint.sendTone(hz, ms);
    const { recording } = await request(nc, MediaApi.stopRecording(call.instance), { callRef: call.callRef });
    await request(nc, MediaApi.closeSession(call.instance), { callRef: call.callRef });
    if (!recording) throw new Error(`${codec}: no recording`);
    return recording;
  } finally {
    call.endpoint.close();
  }
}

/**
 * Writes PCMU packets into a pcap as rtpengine does (`recording-format = raw`: raw IP frames), 20 ms
 * each, in pieces (an hour of them is never in memory at once). A new file gets the pcap header;
 * `append` continues one rtpengine wrote. Packet i has RTP sequence and timestamp continuing from
 * `firstSequence` / `firstTimestamp` and carries the byte `(firstByte + i) % 251` throughout.
 */
export async function writePcmuPcap(
  path: string,
  options: { packets: number; append?: boolean; ssrc?: number; firstSequence?: number; firstTimestamp?: number; firstByte?: number },
): Promise<void> {
  const file = await open(path, options.append ? 'a' : 'w');
  try {
    if (!options.append) {
      const header = Buffer.alloc(24);
      header.writeUInt32LE(0xa1b2c3d4, 0);
      header.writeUInt16LE(2, 4);
      header.writeUInt16LE(4, 6);
      header.writeUInt32LE(65535, 16);
      header.writeUInt32LE(101, 20);
      await file.write(header);
    }
    const frameBytes = 28 + 12 + 160;
    const recordBytes = 16 + frameBytes;
    const perWrite = 5_000;
    const nowS = Math.floor(Date.now() / 1000);
    for (let first = 0; first < options.packets; first += perWrite) {
      const count = Math.min(perWrite, options.packets - first);
      const block = Buffer.alloc(count * recordBytes);
      for (let k = 0; k < count; k++) {
        const i = first + k;
        const at = k * recordBytes;
        block.writeUInt32LE(nowS + Math.floor(i / 50), at);
        block.writeUInt32LE((i % 50) * 20_000, at + 4);
        block.writeUInt32LE(frameBytes, at + 8);
        block.writeUInt32LE(frameBytes, at + 12);
        block[at + 16] = 0x45; // IPv4 …
        block[at + 16 + 9] = 17; // … UDP
        const rtp = at + 16 + 28;
        block[rtp] = 0x80;
        block[rtp + 1] = 0; // PCMU
        block.writeUInt16BE(((options.firstSequence ?? 0) + i) & 0xffff, rtp + 2);
        block.writeUInt32BE(((options.firstTimestamp ?? 0) + i * 160) >>> 0, rtp + 4);
        block.writeUInt32BE(options.ssrc ?? 0x1234, rtp + 8);
        block.fill(((options.firstByte ?? 0) + i) % 251, rtp + 12, rtp + 12 + 160);
      }
      await file.write(block);
    }
  } finally {
    await file.close();
  }
}
