/** The PIN the caller typed, against the verifier signaling sealed, and the mailbox's lock-out. */
import { pinMatches } from '@sipvm/contracts';
import type { ActionContext } from '@sipvm/service';
import type { Counter } from 'prom-client';
import type { PinLockout } from '../pin.js';
import type { VoiceboxAction, VoiceboxEvent } from '../events.js';
import type { VoiceboxCall } from '../app.js';

export const checkPin =
  (lockout: PinLockout, failures: Counter<'outcome'>) =>
  async (action: Extract<VoiceboxAction, { kind: 'check-pin' }>, call: VoiceboxCall, context: ActionContext): Promise<VoiceboxEvent[]> => {
    const outcome = await (async (): Promise<'right' | 'wrong' | 'locked'> => {
      if (!call.pin) return 'right';
      if (await lockout.isLocked(call.mailbox)) {
        failures.inc({ outcome: 'locked' });
        return 'locked';
      }
      if (await pinMatches(action.entered, call.pin)) {
        await lockout.succeeded(call.mailbox);
        return 'right';
      }
      failures.inc({ outcome: 'wrong' });
      const locked = await lockout.failed(call.mailbox);
      context.log.warn({ mailbox: `${call.mailbox.uid}@${call.mailbox.did}`, locked }, locked ? 'wrong PIN; mailbox locked' : 'wrong PIN');
      return 'wrong';
    })();
    return [{ kind: 'pin-checked', outcome }];
  };
