/** A message deleted; one already gone (someone else deleted it) is what the caller wanted. */
import type { NatsConnection } from '@nats-io/nats-core';
import { isServiceError, request, StorageApi } from '@sipvm/contracts';
import type { ActionContext } from '@sipvm/service';
import type { VoiceboxAction } from '../events.js';
import type { VoiceboxCall } from '../app.js';

export const deleteMessage =
  (nc: NatsConnection) =>
  async (action: Extract<VoiceboxAction, { kind: 'delete-message' }>, call: VoiceboxCall, context: ActionContext): Promise<[]> => {
    try {
      await request(nc, StorageApi.deleteMessage, { mailbox: call.mailbox, id: action.id }, { callId: call.callId });
    } catch (error) {
      if (!isServiceError(error, 'message-not-found') && !isServiceError(error, 'mailbox-not-found')) throw error;
    }
    context.log.info({ messageId: action.id }, 'message deleted');
    return [];
  };
