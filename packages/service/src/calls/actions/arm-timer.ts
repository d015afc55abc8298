import { armCallTimer } from '@sipvm/contracts';
import type { CallAction } from '../call.js';
import type { ActionContext } from './context.js';

/** Arms the call's inactivity timer on JetStream: it fires on whichever instance is alive. */
export async function armTimer(action: Extract<CallAction, { kind: 'arm-timer' }>, context: ActionContext): Promise<void> {
  if (context.timerSubject === undefined) throw new Error('this application has no timers');
  await armCallTimer(context.js, context.timerSubject, { callRef: context.call.callRef, timerId: action.timerId, dueAt: Date.now() + action.ms });
}
