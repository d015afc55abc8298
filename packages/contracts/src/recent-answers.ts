/**
 * What an instance answered to the requests it took lately, by reply subject: a request asked
 * again (replies.ts, `repeatAfterMs`) gets the first answer, or waits for it while the work runs,
 * and the work is done once.
 *
 * Kept for at least `keepMs` (the caller's whole patience, after which it asks no more) and at
 * most twice that: two generations of a map, the older dropped whole, so nothing is done per
 * entry to forget it.
 */
export class RecentAnswers {
  #current = new Map<string, Promise<Uint8Array>>();
  #previous = new Map<string, Promise<Uint8Array>>();
  #turnedAt = Date.now();

  constructor(private readonly keepMs: number) {}

  /** The answer (coming) to the request with this reply subject, if this instance took it lately. */
  get(reply: string): Promise<Uint8Array> | undefined {
    this.#turn();
    return this.#current.get(reply) ?? this.#previous.get(reply);
  }

  add(reply: string, answer: Promise<Uint8Array>): void {
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
