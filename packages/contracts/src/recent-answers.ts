/** The answer to a request, once it was sent. */
export interface Answer {
  sent: Uint8Array | undefined;
}

/**
 * The requests an instance took lately and their answers, by reply subject: a request asked again
 * (replies.ts, `repeatAfterMs`) is recognised, and the work is done once (rpc.ts, `serve`).
 *
 * Kept for at least `keepMs` (the caller's whole patience, after which it asks no more) and at
 * most twice that: two generations of a map, the older dropped whole, so nothing is done per
 * entry to forget it.
 */
export class RecentAnswers {
  #current = new Map<string, Answer>();
  #previous = new Map<string, Answer>();
  #turnedAt = Date.now();

  constructor(private readonly keepMs: number) {}

  /** The request with this reply subject, if this instance took it lately. */
  get(reply: string): Answer | undefined {
    this.#turn();
    return this.#current.get(reply) ?? this.#previous.get(reply);
  }

  add(reply: string, answer: Answer): void {
    this.#turn();
    this.#current.set(reply, answer);
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
