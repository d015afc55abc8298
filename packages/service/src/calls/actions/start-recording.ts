import { MediaApi, request } from '@sipvm/contracts';
import type { CallAction } from '../call.js';
import { callOptions, type ActionContext } from './context.js';

/** Starts recording the caller now (media stops it at `maxMs`, or after the silence asked for, and says so). */
export async function startRecording(action: Extract<CallAction, { kind: 'start-recording' }>, context: ActionContext): Promise<void> {
  const { call } = context;
  await request(
    context.nc,
    MediaApi.startRecording(call.mediaInstance),
    { callRef: call.callRef, maxDurationMs: action.maxMs, ...(action.endOnSilence ? { endOnSilence: action.endOnSilence } : {}) },
    callOptions(context),
  );
}
