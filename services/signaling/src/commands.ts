/** Commands from the applications to the instance holding a call (SignalingApi): hangup, final reply, transfer. */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { serve, SignalingApi } from '@sipvm/contracts';
import { requestInstrumentation, type Logger } from '@sipvm/service';
import type { Registry } from 'prom-client';
import type { Calls } from './calls.js';

export function serveCommands(nc: NatsConnection, instanceId: string, calls: Calls, log: Logger, registry: Registry): Subscription[] {
  const hooks = requestInstrumentation(registry, log);
  return [
    serve(nc, SignalingApi.hangup(instanceId), async (req) => ({ ended: await calls.hangup(req.callRef, req.reason) }), hooks),
    serve(nc, SignalingApi.finalReply(instanceId), async (req) => ({ sent: await calls.finalReply(req.callRef, req.code, req.reason) }), hooks),
    serve(nc, SignalingApi.transfer(instanceId), (req) => calls.transfer(req.callRef, req.target, req.method), hooks),
  ];
}
