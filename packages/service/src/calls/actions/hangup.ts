import { request, SignalingApi } from '@sipvm/contracts';
import type { CallAction } from '../call.js';
import { callOptions, type ActionContext } from './context.js';

/** Ends the call (BYE, or the final reply while in early media). */
export async function hangup(action: Extract<CallAction, { kind: 'hangup' }>, context: ActionContext): Promise<void> {
  const { call } = context;
  await request(context.nc, SignalingApi.hangup(call.signalingInstance), { callRef: call.callRef, reason: action.reason }, callOptions(context));
}
