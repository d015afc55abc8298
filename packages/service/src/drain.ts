/**
 * Draining: from the moment an orchestrator decides to stop an instance (Kubernetes runs the
 * preStop hook before it sends SIGTERM), the instance takes no new work but finishes what it holds.
 * A service says what "new work" and "what it holds" are: signaling refuses new INVITEs and answers
 * OPTIONS with 503 (the proxy's dispatcher moves on), media stops opening sessions; each counts its
 * calls. The trigger is `POST /drain` on the health port, from this host only (drain-cli.ts is
 * the preStop that calls it and waits), or the first SIGTERM.
 * Sequence: docs/flows/draining.md
 */
export interface DrainStatus {
  draining: boolean;
  /** What the instance still holds (calls, sessions): draining is done when it reaches 0. */
  inFlight: number;
}

export class Drain {
  readonly #listeners: (() => void)[] = [];
  #inFlight: () => number = () => 0;
  #draining = false;

  get draining(): boolean {
    return this.#draining;
  }

  /** What the instance holds; read by `status()` (the preStop waits for it to reach 0). */
  track(inFlight: () => number): void {
    this.#inFlight = inFlight;
  }

  /** Runs `listener` when draining begins (at once if it has). */
  onStart(listener: () => void): void {
    if (this.#draining) listener();
    else this.#listeners.push(listener);
  }

  /** Begins draining; later calls change nothing. */
  start(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const listener of this.#listeners.splice(0)) listener();
  }

  status(): DrainStatus {
    return { draining: this.#draining, inFlight: this.#inFlight() };
  }
}
