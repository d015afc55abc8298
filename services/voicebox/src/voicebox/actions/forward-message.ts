/**
 * The current message copied into another mailbox of the domain (the number the caller typed),
 * with the introduction they recorded before it. A full mailbox or a number that cannot be one is
 * told to the caller, not a failure of the call.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { isServiceError, MailboxIdSchema, request, StorageApi } from '@sipvm/contracts';
import type { ActionContext, Domains } from '@sipvm/service';
import type { VoiceboxAction, VoiceboxEvent } from '../events.js';
import type { VoiceboxCall } from '../app.js';

export const forwardMessage =
  (nc: NatsConnection, limits: { domains: Domains; maxMessages: number }) =>
  async (action: Extract<VoiceboxAction, { kind: 'forward-message' }>, call: VoiceboxCall, context: ActionContext): Promise<VoiceboxEvent[]> => {
    const uid = MailboxIdSchema.safeParse(action.to);
    if (!uid.success || uid.data === call.mailbox.uid) return [{ kind: 'forwarded', outcome: 'invalid' }];
    const to = { did: call.mailbox.did, uid: uid.data };
    // The receiving mailbox's limit as a call to it would have it (the domain's, else the platform's; its profile is not known here).
    const maxMessages = limits.domains.of(to.did).maxMessages ?? limits.maxMessages;
    try {
      const { message } = await request(
        nc,
        StorageApi.forwardMessage,
        {
          mailbox: call.mailbox,
          id: action.id,
          to,
          ...(action.introduction ? { introduction: action.introduction } : {}),
          ...(maxMessages > 0 ? { maxMessages } : {}),
        },
        { callId: call.callId },
      );
      context.log.info({ messageId: action.id, to: `${to.uid}@${to.did}`, copy: message.id }, 'message forwarded');
      return [{ kind: 'forwarded', outcome: 'forwarded' }];
    } catch (error) {
      if (isServiceError(error, 'quota-exceeded')) return [{ kind: 'forwarded', outcome: 'full' }];
      if (isServiceError(error, 'bad-request')) return [{ kind: 'forwarded', outcome: 'invalid' }];
      throw error;
    }
  };
