import { isServiceError, MediaApi, request, send, type Recording } from '@sipvm/contracts';
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

/**
 * The call is over and its record gone: nothing will ask for its recording again, so media may
 * erase it now rather than keep it until its state expires.
 */
export function releaseRecordings(context: Pick<ActionContext, 'nc' | 'call'>): void {
  const { call } = context;
  send(context.nc, MediaApi.releaseRecording(call.mediaNode), { callRef: call.callRef }, { callId: call.callId });
}
