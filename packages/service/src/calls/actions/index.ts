/**
 * The actions every flow may ask for, one file each, and the one table that says which file
 * carries out which kind. The table's type is derived from the `CallAction` union: a kind added to
 * the union and left out here does not compile, and the kinds the runtime recognises as its own
 * (`isCallAction`) are this table's keys — there is no second list to forget.
 */
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
export { recordingOf, releaseRecordings } from './stop-recording.js';

/**
 * One performer per kind of `A`: carries the action out and returns what it found out, as events
 * for the flow. `R` is what the performer is given besides the action (the call's record).
 */
export type Performers<A extends { kind: string }, R, E> = {
  readonly [K in A['kind']]: (action: Extract<A, { kind: K }>, record: R, context: ActionContext) => Promise<E[]>;
};

const none = async (work: Promise<void>): Promise<CallEvent[]> => {
  await work;
  return [];
};

/** The runtime's own actions. */
export const CALL_ACTIONS: Performers<CallAction, unknown, CallEvent> = {
  play: (action, _record, context) => none(play(action, context)),
  'stop-playback': (_action, _record, context) => none(stopPlayback(context)),
  'arm-timer': (action, _record, context) => none(armTimer(action, context)),
  hangup: (action, _record, context) => none(hangup(action, context)),
  'final-reply': (action, _record, context) => none(finalReply(action, context)),
  'start-recording': (action, _record, context) => none(startRecording(action, context)),
  'stop-recording': (action, _record, context) => stopRecording(action, context),
  transfer: (action, _record, context) => transfer(action, context),
};

export const CALL_ACTION_KINDS = Object.keys(CALL_ACTIONS) as readonly CallAction['kind'][];

export function isCallAction(action: { kind: string }): action is CallAction {
  return Object.hasOwn(CALL_ACTIONS, action.kind);
}

/**
 * Carries out an action with the performer its kind names in `performers`; what it found out comes
 * back as events for the flow.
 */
export function performWith<A extends { kind: string }, R, E>(performers: Performers<A, R, E>, action: A, record: R, context: ActionContext): Promise<E[]> {
  const performer = performers[action.kind as A['kind']] as (action: A, record: R, context: ActionContext) => Promise<E[]>;
  return performer(action, record, context);
}
