/**
 * Publishes mailbox changes to JetStream (stream VM_MAILBOX) for MWI.
 * The change itself is already stored when this runs; a failed publish is retried, then logged
 * loudly and counted, because a lost event only delays an MWI lamp until the next change.
 */
import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { encodeJson, SUBJECTS, withTraceHeaders, type MailboxChangedEvent } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import { Counter, type Registry } from 'prom-client';
import type { MailboxChange } from './mailbox-store.js';

const RETRY_DELAYS_MS = [100, 500, 2_000];

export function mailboxEventPublisher(js: JetStreamClient, log: Logger, registry: Registry) {
  const failures = new Counter({
    name: 'sipvm_mailbox_events_lost_total',
    help: 'Mailbox events that could not be published after retries (MWI may lag)',
    registers: [registry],
  });
  return async (change: MailboxChange): Promise<void> => {
    const event: MailboxChangedEvent = { eventId: randomUUID(), ...change, at: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      try {
        const headers = withTraceHeaders(undefined);
        await js.publish(SUBJECTS.mailbox.changed, encodeJson(event), { msgID: event.eventId, ...(headers ? { headers } : {}) });
        return;
      } catch (error) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          failures.inc();
          log.error({ event, err: String(error) }, 'mailbox event could not be published');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}
