/** What an action needs to reach the rest of the platform for one call. */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { CallBase } from '../call.js';

export interface ActionContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly call: CallBase;
  readonly log: Logger;
  /** Where this application's inactivity timers go (its JetStream timer subject). */
  readonly timerSubject: string | undefined;
}

/** The request options every command of a call carries: its Call-ID, for the logs of whoever answers. */
export const callOptions = (context: ActionContext) => ({ callId: context.call.callId });
