/**
 * annrecorder's actions on storage: the new greeting kept (the temporary one with its end, so many
 * days from now), or the greeting deleted so callers hear the default again.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, StorageApi } from '@sipvm/contracts';
import type { ActionContext } from '@sipvm/service';
import type { AnnrecorderAction } from '../flow.js';
import type { AnnrecorderCall } from '../app.js';

const DAY_MS = 24 * 3600 * 1000;

export const keepGreeting =
  (nc: NatsConnection) =>
  async (action: Extract<AnnrecorderAction, { kind: 'keep-greeting' }>, call: AnnrecorderCall, context: ActionContext): Promise<[]> => {
    const until = action.days === undefined ? undefined : new Date(Date.now() + action.days * DAY_MS).toISOString();
    await request(
      nc,
      StorageApi.putGreeting,
      { mailbox: call.mailbox, type: call.greetingType, audio: action.audio, ...(until ? { until } : {}) },
      { callId: call.callId },
    );
    context.log.info({ type: call.greetingType, until }, 'greeting kept');
    return [];
  };

export const deleteGreeting =
  (nc: NatsConnection) =>
  async (_action: Extract<AnnrecorderAction, { kind: 'delete-greeting' }>, call: AnnrecorderCall, context: ActionContext): Promise<[]> => {
    await request(nc, StorageApi.deleteGreeting, { mailbox: call.mailbox, type: call.greetingType }, { callId: call.callId });
    context.log.info({ type: call.greetingType }, 'greeting deleted; callers hear the default');
    return [];
  };
