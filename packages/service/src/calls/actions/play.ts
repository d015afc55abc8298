import { MediaApi, request } from '@sipvm/contracts';
import type { CallAction } from '../call.js';
import { callOptions, type ActionContext } from './context.js';

/** Plays prompts, greetings or messages into the call, replacing what plays (media reports the end). */
export async function play(action: Extract<CallAction, { kind: 'play' }>, context: ActionContext): Promise<void> {
  const { call } = context;
  await request(
    context.nc,
    MediaApi.play(call.mediaInstance),
    {
      callRef: call.callRef,
      playbackId: action.playbackId,
      items: action.items,
      mode: 'replace',
      ...(action.thenRecord ? { thenRecord: action.thenRecord } : {}),
    },
    callOptions(context),
  );
}
