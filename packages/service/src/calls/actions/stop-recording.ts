import { isServiceError, MediaApi, request, type Recording } from '@sipvm/contracts';
import type { CallAction, CallEvent } from '../call.js';
import { callOptions, type ActionContext } from './context.js';

/**
 * Stops the recording and has it staged (or dropped, with `discard`). When the media instance that
 * held the call is gone, another one of the same node (beside the rtpengine that wrote the pcap)
 * delivers it.
 */
export async function stopRecording(action: Extract<CallAction, { kind: 'stop-recording' }>, context: ActionContext): Promise<CallEvent[]> {
  const recording = await recordingOf(context, action.discard);
  return action.discard ? [] : [{ kind: 'recorded', recording }];
}

export async function recordingOf(context: ActionContext, discard = false): Promise<Recording | null> {
  const { call } = context;
  const req = { callRef: call.callRef, discard };
  try {
    return (await request(context.nc, MediaApi.stopRecording(call.mediaInstance), req, callOptions(context))).recording;
  } catch (error) {
    if (!isServiceError(error, 'service-unavailable')) throw error;
    return (await request(context.nc, MediaApi.stopRecordingOnNode(call.mediaNode), req, callOptions(context))).recording;
  }
}
