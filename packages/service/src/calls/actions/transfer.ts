import { request, SignalingApi } from '@sipvm/contracts';
import type { CallAction, CallEvent } from '../call.js';
import { callOptions, type ActionContext } from './context.js';

/**
 * Transfers the caller (REFER, or a call the platform places and connects) and waits for the
 * outcome, which comes back to the flow: the caller reached the target, or is still here.
 */
export async function transfer(action: Extract<CallAction, { kind: 'transfer' }>, context: ActionContext): Promise<CallEvent[]> {
  const { call } = context;
  const result = await request(
    context.nc,
    SignalingApi.transfer(call.signalingInstance),
    { callRef: call.callRef, target: action.target, method: action.method },
    callOptions(context),
  );
  context.log.info(
    { target: action.target, method: action.method, outcome: result.outcome, status: result.status, reason: result.reason },
    'transfer to the operator',
  );
  return [{ kind: 'transfer', outcome: result.outcome, status: result.status }];
}
