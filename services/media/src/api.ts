/**
 * The media API on NATS (contracts/media.ts): every request validated by `serve`, every failure one
 * envelope. Opening, status and the stop of an orphaned recording are shared by the instances of
 * this node (queue group); the rest is this instance's.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { MEDIA_QUEUE, MediaApi, serve } from '@sipvm/contracts';
import { requestInstrumentation, type Logger } from '@sipvm/service';
import type { Registry } from 'prom-client';
import type { Sessions } from './sessions.js';

export function serveMediaApi(
  nc: NatsConnection,
  { instance, node }: { instance: string; node: string },
  sessions: Sessions,
  ready: () => boolean,
  log: Logger,
  registry: Registry,
): { intake: Subscription[]; calls: Subscription[] } {
  const hooks = requestInstrumentation(registry, log);
  // New calls, and the question whether this instance takes them: the first to go at shutdown.
  const intake = [
    serve(nc, MediaApi.openSession(node), async (req) => ({ mediaInstance: instance, ...(await sessions.open(req)) }), { ...hooks, queue: MEDIA_QUEUE }),
    serve(nc, MediaApi.status(node), async () => ({ mediaInstance: instance, ready: ready() }), { queue: MEDIA_QUEUE }),
  ];
  const calls = [
    serve(nc, MediaApi.updateSession(instance), (req) => sessions.update(req.callRef, req.sdpOffer), hooks),
    serve(nc, MediaApi.closeSession(instance), (req) => sessions.close(req.callRef), hooks),
    serve(nc, MediaApi.play(instance), (req) => sessions.play(req), hooks),
    serve(nc, MediaApi.stopPlayback(instance), (req) => sessions.stopPlayback(req.callRef), hooks),
    serve(nc, MediaApi.startRecording(instance), (req) => sessions.startRecording(req.callRef, req), hooks),
    serve(nc, MediaApi.stopRecording(instance), (req) => sessions.stopRecording(req.callRef, req.discard), hooks),
    serve(nc, MediaApi.bridgeOffer(instance), (req) => sessions.bridgeOffer(req.callRef, req.callerSdp), hooks),
    serve(nc, MediaApi.bridge(instance), (req) => sessions.bridge(req.callRef, req.sdpAnswer), hooks),
    serve(nc, MediaApi.stopRecordingOnNode(node), (req) => sessions.stopRecording(req.callRef, req.discard), { ...hooks, queue: MEDIA_QUEUE }),
    serve(nc, MediaApi.releaseRecording(node), (req) => sessions.releaseRecording(req.callRef), { ...hooks, queue: MEDIA_QUEUE }),
  ];
  return { intake, calls };
}
