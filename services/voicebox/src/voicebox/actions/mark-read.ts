/** A message heard: saved from now on (storage counts it and MWI follows). */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, StorageApi } from '@sipvm/contracts';
import type { VoiceboxAction } from '../events.js';
import type { VoiceboxCall } from '../app.js';

export const markRead =
  (nc: NatsConnection) =>
  async (action: Extract<VoiceboxAction, { kind: 'mark-read' }>, call: VoiceboxCall): Promise<[]> => {
    await request(nc, StorageApi.markMessage, { mailbox: call.mailbox, id: action.id, read: true }, { callId: call.callId });
    return [];
  };
