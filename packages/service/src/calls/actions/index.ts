/** The actions every flow may ask for, one file each; `perform` carries one out. */
import type { CallAction, CallEvent } from '../call.js';
import type { ActionContext } from './context.js';
import { armTimer } from './arm-timer.js';
import { finalReply } from './final-reply.js';
import { hangup } from './hangup.js';
import { play } from './play.js';
import { startRecording } from './start-recording.js';
import { stopPlayback } from './stop-playback.js';
import { stopRecording } from './stop-recording.js';
import { transfer } from './transfer.js';

export type { ActionContext } from './context.js';
export { recordingOf } from './stop-recording.js';

/** Carries out an action; what it found out comes back as events for the flow. */
export async function perform(action: CallAction, context: ActionContext): Promise<CallEvent[]> {
  switch (action.kind) {
    case 'play':
      await play(action, context);
      return [];
    case 'stop-playback':
      await stopPlayback(context);
      return [];
    case 'arm-timer':
      await armTimer(action, context);
      return [];
    case 'hangup':
      await hangup(action, context);
      return [];
    case 'final-reply':
      await finalReply(action, context);
      return [];
    case 'start-recording':
      await startRecording(action, context);
      return [];
    case 'stop-recording':
      return stopRecording(action, context);
    case 'transfer':
      return transfer(action, context);
  }
}
