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
 *
 * Core NATS delivers at most once: a request, or its reply, that reaches a server while the other
 * side's connection moves to another server (a NATS server leaving in lame duck mode, a network
 * blip) is gone, and so is the answer a caller waits for. A request of an endpoint that may be
 * asked again (`repeatAfterMs`, see rpc.ts) is published again while no answer came, and once
 * more after "nobody is serving it" (the answering service's interest may not have reached this
 * server yet). Each repeat has a reply subject of its own, the first one's with `-<n>` after it:
 * NATS lets a service answer each reply subject it received once (`allow_responses`). The
 * service does the work once and answers the copy it got first, and a copy that comes after its
 * answer went (`serve`, `firstReplyOf`); whichever answer arrives settles the request.
 */
import { createInbox, errors as natsErrors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { ServiceError, toServiceError } from './errors.js';

interface Waiting {
  readonly subject: string;
  timer: NodeJS.Timeout;
  /** Publishes the request again; undefined for an endpoint that must not be asked twice. */
  readonly repeat: ((n: number) => void) | undefined;
  /** How many times it was published. */
  asked: number;
  /** Whether "nobody is serving it" was answered once already (a second one is final). */
  unserved: boolean;
  readonly resolve: (msg: Msg) => void;
  /** Why no reply came, always `service-unavailable`: no answer in time, nobody subscribed, the connection closed. */
  readonly reject: (error: ServiceError) => void;
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
        this.#settle(firstReplyOf(msg.subject).slice(this.#prefix.length), msg);
      },
    });
    void this.#subscription.closed.then(() => {
      onGone();
      this.#failAll('the NATS connection is closed');
    });
  }

  /**
   * Publishes the request with a reply subject of this inbox; resolves with the reply, rejects with
   * a `service-unavailable` ServiceError saying why no reply came (or what publishing threw).
   */
  ask(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number, repeatAfterMs?: number): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const token = (this.#next++).toString(36);
      const reply = `${this.#prefix}${token}`;
      const publish = (n = 1) => this.nc.publish(subject, data, { reply: n === 1 ? reply : `${reply}${REPEAT_MARK}${n}`, ...(headers ? { headers } : {}) });
      const deadline = Date.now() + timeoutMs;
      // An endpoint whose patience is shorter than the pause is asked once (a status question).
      // The pause doubles after each repeat: a service that is slow, not unreachable, gets a few
      // copies of a request, not one every REPEAT_AFTER_MS while it is overloaded.
      let pauseMs = repeatAfterMs !== undefined && repeatAfterMs < timeoutMs ? repeatAfterMs : undefined;
      // One timer a request: it fires at each repeat, the last time at the deadline.
      const wake = (): NodeJS.Timeout => {
        const left = deadline - Date.now();
        return setTimeout(
          () => {
            if (deadline - Date.now() > 0 && waiting.repeat) {
              this.#askAgain(waiting);
              if (pauseMs !== undefined) pauseMs *= 2;
              waiting.timer = wake();
              return;
            }
            this.#pending.delete(token);
            const asked = waiting.asked > 1 ? ` (asked ${waiting.asked} times)` : '';
            const why = waiting.unserved ? `nobody is serving ${subject}` : `${subject} did not answer within ${timeoutMs} ms`;
            reject(new ServiceError('service-unavailable', `${why}${asked}`));
          },
          pauseMs !== undefined ? Math.min(pauseMs, left) : left,
        );
      };
      const waiting: Waiting = {
        subject,
        timer: wake(),
        repeat: pauseMs !== undefined ? publish : undefined,
        asked: 1,
        unserved: false,
        resolve,
        reject,
      };
      this.#pending.set(token, waiting);
      try {
        publish();
      } catch (error) {
        this.#pending.delete(token);
        clearTimeout(waiting.timer);
        throw error;
      }
    });
  }

  /** Publishes a request again; a failure to (the connection closing) is left to its deadline. */
  #askAgain(waiting: Waiting): void {
    waiting.asked++;
    repeats.set(waiting.subject, (repeats.get(waiting.subject) ?? 0) + 1);
    try {
      waiting.repeat?.(waiting.asked);
    } catch {
      // closed or draining: #failAll or the deadline answers the caller
    }
  }

  #settle(token: string, msg: Msg): void {
    const waiting = this.#pending.get(token);
    if (!waiting) return; // timed out already, or an answer repeated
    // NATS answers 503 with no body when no subscriber took the request.
    const unserved = msg.data.length === 0 && msg.headers?.code === 503;
    if (unserved && waiting.repeat && !waiting.unserved) {
      // Asked again at the next repeat: a service that just moved to another NATS server may
      // not be known on this one yet. A second "nobody" is final.
      waiting.unserved = true;
      return;
    }
    this.#pending.delete(token);
    clearTimeout(waiting.timer);
    if (unserved) {
      waiting.reject(new ServiceError('service-unavailable', `nobody is serving ${waiting.subject}`));
    } else {
      waiting.resolve(msg);
    }
  }

  #failAll(why: string): void {
    for (const [token, waiting] of this.#pending) {
      this.#pending.delete(token);
      clearTimeout(waiting.timer);
      waiting.reject(new ServiceError('service-unavailable', `${waiting.subject} was not answered: ${why}`));
    }
  }
}

/**
 * Publishes a request and waits for its reply, or rejects with a `service-unavailable` ServiceError
 * saying why none came: no answer within `timeoutMs`, nobody serving `subject`, the connection closed.
 * With `repeatAfterMs`, published again after each such pause without an answer (see above).
 */
export async function ask(
  nc: NatsConnection,
  subject: string,
  data: Uint8Array,
  headers: MsgHdrs | undefined,
  timeoutMs: number,
  repeatAfterMs?: number,
): Promise<Msg> {
  try {
    return await replyInbox(nc).ask(subject, data, headers, timeoutMs, repeatAfterMs);
  } catch (error) {
    if (error instanceof natsErrors.ClosedConnectionError || error instanceof natsErrors.DrainingConnectionError) {
      throw new ServiceError('service-unavailable', `NATS connection is closed (${subject})`, { cause: error });
    }
    throw toServiceError(error);
  }
}

/** Between a request's reply subject and the number of a repeat (inbox tokens are base 36 or nuids: no `-`). */
const REPEAT_MARK = '-';

/** The reply subject of the first copy of a request, given any copy's (itself when not a repeat). */
export function firstReplyOf(reply: string): string {
  const mark = reply.lastIndexOf(REPEAT_MARK);
  return mark > reply.lastIndexOf('.') && /^\d+$/.test(reply.slice(mark + 1)) ? reply.slice(0, mark) : reply;
}

/** Requests published again in this process, by subject: `sipvm_requests_repeated_total`. */
const repeats = new Map<string, number>();

/** How many times requests were asked again since the process started, by subject. */
export function repeatedRequests(): ReadonlyMap<string, number> {
  return repeats;
}

const inboxes = new WeakMap<NatsConnection, ReplyInbox>();

/** The reply inbox of a connection, made on its first request (under the connection's inbox prefix, which permissions allow it). */
function replyInbox(nc: NatsConnection): ReplyInbox {
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
