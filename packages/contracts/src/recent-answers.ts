/**
 * The requests an instance took lately, by the reply subject of their first copy: a request asked
 * again (replies.ts, `repeatAfterMs`) is recognised, its work is done once, and every copy gets
 * the answer (rpc.ts, `serve`).
 */
import type { Msg } from '@nats-io/nats-core';

/** One request and the copies of it that came while its work ran. */
export class Answer {
  #sent: Uint8Array | undefined;
  #copies: Msg[] = [];

  /** A copy of the request: answered now if the work is done, else with the others when it is. */
  copy(msg: Msg): void {
    if (this.#sent) msg.respond(this.#sent);
    else this.#copies.push(msg);
  }

  /** The work is done: the answer goes to every copy received, each on its own reply subject. */
  send(body: Uint8Array): void {
    this.#sent = body;
    for (const msg of this.#copies) msg.respond(body);
    this.#copies = [];
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
