import { MediaApi, request } from '@sipvm/contracts';
import { callOptions, type ActionContext } from './context.js';

/** Stops what plays (it is reported as stopped). */
export async function stopPlayback(context: ActionContext): Promise<void> {
  await request(context.nc, MediaApi.stopPlayback(context.call.mediaInstance), { callRef: context.call.callRef }, callOptions(context));
}
