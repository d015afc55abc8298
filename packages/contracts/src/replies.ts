/**
 * Where the replies to one connection's requests arrive: one wildcard subscription on the
 * connection's inbox, and a table from reply token to the request waiting for it.
 *
 * nats.js's own `request()` does the same, but builds an `Error` (a stack trace) for every
 * request that succeeds, when it cancels the request's promise after resolving it: measured at
 * 0.0008 CPU s per deposit over the four services (BENCHMARKS.md, profiles).
 *
 * A request whose connection breaks keeps waiting, as with nats.js: the client subscribes again
 * on the server it reconnects to (tens of milliseconds when a NATS server leaves in lame duck
 * mode), and a reply the answering service sends after that still arrives.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { ServiceError } from './errors.js';

/** A reply, or why none came: no answer in time, nobody subscribed, or the connection broke or closed. */
export type ReplyOutcome = { msg: Msg } | { error: ServiceError; why: 'timeout' | 'no-responders' | 'gone' };

interface Waiting {
  readonly subject: string;
  readonly timer: NodeJS.Timeout;
  readonly settle: (outcome: ReplyOutcome) => void;
}

class ReplyInbox {
  readonly #pending = new Map<string, Waiting>();
  readonly #prefix: string;
  readonly #subscription: Subscription;
  #next = 0;

  constructor(
    private readonly nc: NatsConnection,
    inboxPrefix: string,
    onGone: () => void,
  ) {
    this.#prefix = `${createInbox(inboxPrefix)}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (error) {
          // The subscription itself was refused (permissions): no reply can arrive.
          this.#failAll(`replies cannot be received: ${error.message}`);
          return;
        }
        this.#settle(msg.subject.slice(this.#prefix.length), msg);
      },
    });
    void this.#subscription.closed.then(() => {
      onGone();
      this.#failAll('the NATS connection is closed');
    });
  }

  /** Publishes the request with a reply subject of this inbox; settles with the reply, a timeout, or why no reply can come. */
  ask(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number): Promise<ReplyOutcome> {
    return new Promise((resolve) => {
      const token = (this.#next++).toString(36);
      const timer = setTimeout(() => {
        this.#pending.delete(token);
        resolve({ error: new ServiceError('service-unavailable', `${subject} did not answer within ${timeoutMs} ms`), why: 'timeout' });
      }, timeoutMs);
      this.#pending.set(token, { subject, timer, settle: resolve });
      try {
        this.nc.publish(subject, data, { reply: `${this.#prefix}${token}`, ...(headers ? { headers } : {}) });
      } catch (error) {
        this.#pending.delete(token);
        clearTimeout(timer);
        throw error;
      }
    });
  }

  #settle(token: string, msg: Msg): void {
    const waiting = this.#pending.get(token);
    if (!waiting) return; // timed out already, or an answer repeated
    this.#pending.delete(token);
    clearTimeout(waiting.timer);
    // NATS answers 503 with no body when no subscriber took the request.
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      waiting.settle({ error: new ServiceError('service-unavailable', `nobody is serving ${waiting.subject}`), why: 'no-responders' });
    } else {
      waiting.settle({ msg });
    }
  }

  #failAll(why: string): void {
    for (const [token, waiting] of this.#pending) {
      this.#pending.delete(token);
      clearTimeout(waiting.timer);
      waiting.settle({ error: new ServiceError('service-unavailable', `${waiting.subject} was not answered: ${why}`), why: 'gone' });
    }
  }
}

const inboxes = new WeakMap<NatsConnection, ReplyInbox>();

/** The reply inbox of a connection, made on its first request (under the connection's inbox prefix, which permissions allow it). */
export function replyInbox(nc: NatsConnection): ReplyInbox {
  let inbox = inboxes.get(nc);
  if (!inbox) {
    inbox = new ReplyInbox(nc, inboxPrefixOf(nc), () => inboxes.delete(nc));
    inboxes.set(nc, inbox);
  }
  return inbox;
}

/** The `inboxPrefix` the connection was opened with (services: `_INBOX.<identity>`, see permissions.ts). */
function inboxPrefixOf(nc: NatsConnection): string {
  const options = (nc as NatsConnection & { options?: { inboxPrefix?: unknown } }).options;
  return typeof options?.inboxPrefix === 'string' && options.inboxPrefix !== '' ? options.inboxPrefix : '_INBOX';
}
