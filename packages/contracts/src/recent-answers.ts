/**
 * The requests an instance took lately, by the reply subject of their first copy: a request asked
 * again (replies.ts, `repeatAfterMs`) is recognised, and its work is done once (rpc.ts, `serve`).
 */
import type { Msg } from '@nats-io/nats-core';

/** One request: the copy that came first, and its answer once the work is done. */
export class Answer {
  /**
   * Held only until it is answered: a received message's data is a view into the socket read it
   * came in, and holding it for the whole `keepMs` would hold those reads.
   */
  #first: Msg | undefined;
  #sent: Uint8Array | undefined;

  constructor(first: Msg) {
    this.#first = first;
  }

  /**
   * Another copy of the request. One that comes while the work runs needs nothing: the first
   * copy's answer reaches the same caller (replies.ts maps every copy to its request). One that
   * comes after the answer went is answered again, on its own reply subject: the answer was lost.
   */
  copy(msg: Msg): void {
    if (this.#sent) msg.respond(this.#sent);
  }

  /** The work is done: the answer goes to the first copy. */
  send(body: Uint8Array): void {
    this.#sent = body;
    this.#first?.respond(body);
    this.#first = undefined;
  }
}

/**
 * Kept for at least `keepMs` (the caller's whole patience, after which it asks no more) and at
 * most twice that: two generations of a map, the older dropped whole, so nothing is done per
 * entry to forget it.
 */
export class RecentAnswers {
  #current = new Map<string, Answer>();
  #previous = new Map<string, Answer>();
  #turnedAt = Date.now();

  constructor(private readonly keepMs: number) {}

  /** The request whose first copy had this reply subject, if this instance took it lately. */
  get(firstReply: string): Answer | undefined {
    this.#turn();
    return this.#current.get(firstReply) ?? this.#previous.get(firstReply);
  }

  add(firstReply: string, answer: Answer): void {
    this.#turn();
    this.#current.set(firstReply, answer);
  }

  #turn(): void {
    const now = Date.now();
    const age = now - this.#turnedAt;
    if (age < this.keepMs) return;
    this.#previous = age < 2 * this.keepMs ? this.#current : new Map();
    this.#current = new Map();
    this.#turnedAt = now;
  }
}
