/**
 * Commands to this instance: from the applications for a call it holds (SignalingApi: hangup,
 * final reply, transfer), and from the other signaling instances for an MWI dialog it holds (MwiApi).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { MwiApi, serve, SignalingApi } from '@sipvm/contracts';
import { requestInstrumentation, type Logger } from '@sipvm/service';
import type { Registry } from 'prom-client';
import type { Calls } from './calls.js';
import type { MwiSubscriptions } from './mwi-subscriptions.js';

export function serveCommands(
  nc: NatsConnection,
  instanceId: string,
  calls: Calls,
  subscriptions: MwiSubscriptions,
  log: Logger,
  registry: Registry,
): Subscription[] {
  const hooks = requestInstrumentation(registry, log);
  return [
    serve(nc, SignalingApi.hangup(instanceId), async (req) => ({ ended: await calls.hangup(req.callRef, req.reason) }), hooks),
    serve(nc, SignalingApi.finalReply(instanceId), async (req) => ({ sent: await calls.finalReply(req.callRef, req.code, req.reason) }), hooks),
    serve(nc, SignalingApi.transfer(instanceId), (req) => calls.transfer(req.callRef, req.target, req.method), hooks),
    serve(nc, MwiApi.notify(instanceId), async (req) => ({ sent: await subscriptions.notifyHere(req.key, req.counts) }), hooks),
  ];
}
