/** For the flows' tests: a call scripted as short steps ('finish' = the current playback ends). */
import type { Digit } from '@sipvm/contracts';
import type { CallEvent } from '@sipvm/service';
import type { Turn } from '../src/call/turn.js';

export type ScriptStep<E extends { kind: string } = CallEvent> = E | Digit | 'finish' | 'timeout';

export function eventFor<E extends { kind: string }>(step: ScriptStep<E>, state: Turn): E | CallEvent {
  if (step === 'finish') return { kind: 'playback-finished', playbackId: state.playbackId };
  if (step === 'timeout') return { kind: 'timeout', timerId: state.timerId };
  if (typeof step === 'string') return { kind: 'digit', digit: step };
  return step;
}
