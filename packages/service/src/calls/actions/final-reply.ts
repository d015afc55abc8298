import { request, SignalingApi } from '@sipvm/contracts';
import type { CallAction } from '../call.js';
import { callOptions, type ActionContext } from './context.js';

/** After an early-media announcement, the final error reply; an answered call is hung up instead. */
export async function finalReply(action: Extract<CallAction, { kind: 'final-reply' }>, context: ActionContext): Promise<void> {
  const { call } = context;
  const options = callOptions(context);
  const { sent } = await request(
    context.nc,
    SignalingApi.finalReply(call.signalingInstance),
    { callRef: call.callRef, code: action.code, reason: action.reason },
    options,
  );
  if (!sent) await request(context.nc, SignalingApi.hangup(call.signalingInstance), { callRef: call.callRef, reason: 'announcement played' }, options);
}
