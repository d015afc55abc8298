/**
 * Whether a media instance of this node can take a call now. A signaling instance whose NATS is up
 * but whose media is not would answer INVITEs and then fail them; so it asks its node's media (not
 * another node's: the proxy picks this node for its own) on a short interval, and
 * its readiness and its OPTIONS answer (what a proxy's dispatcher routes by) include the answer.
 * Media saying "not ready" counts at once; a request that fails (no answer in time, nobody
 * serving) counts only the second time in a row, so that one lost probe does not refuse calls.
 * A NATS outage makes the answer unknown: unavailable until media answers after the reconnect
 * (media reconnects on its own schedule, maybe after this instance).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { MediaApi, request, toServiceError } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';

export class MediaAvailability {
  readonly #nc: NatsConnection;
  readonly #status: ReturnType<typeof MediaApi.status>;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #available = false;
  #failuresInRow = 0;
  /** Counts NATS outages: an answer to a probe sent before the last one says nothing now. */
  #outages = 0;
  #timer: NodeJS.Timeout | undefined;
  #probing: Promise<void> | undefined;

  constructor(options: { nc: NatsConnection; node: string; log: Logger; intervalMs: number }) {
    this.#nc = options.nc;
    this.#status = MediaApi.status(options.node);
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
  }

  get available(): boolean {
    return this.#available;
  }

  /** Asks once now (start-up waits for the first answer), then every interval. */
  async start(): Promise<void> {
    void this.#followConnection();
    await this.probe();
    this.#timer = setInterval(() => void this.probe(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #followConnection(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect') {
        this.#outages++;
        this.#set(false, 'message bus unreachable');
      } else if (status.type === 'reconnect') void this.probe();
    }
  }

  /** Asks media now; concurrent callers share one request. Call it when a media request failed. */
  probe(): Promise<void> {
    this.#probing ??= this.#ask().finally(() => (this.#probing = undefined));
    return this.#probing;
  }

  async #ask(): Promise<void> {
    const outages = this.#outages;
    let ready: boolean;
    let why = '';
    try {
      const status = await request(this.#nc, this.#status, {}, { timeoutMs: Math.min(this.#status.timeoutMs, this.#intervalMs) });
      this.#failuresInRow = 0;
      ready = status.ready;
      if (!ready) why = `media instance ${status.mediaInstance} cannot reach rtpengine`;
    } catch (error) {
      this.#failuresInRow++;
      why = toServiceError(error).message;
      ready = this.#available && this.#failuresInRow < 2;
      if (ready) this.#log.debug({ why }, 'media probe failed once');
    }
    if (outages === this.#outages) this.#set(ready, why);
  }

  #set(ready: boolean, why: string): void {
    if (ready !== this.#available) {
      if (ready) this.#log.info('media available: taking calls');
      else this.#log.warn({ why }, 'media unavailable: refusing calls');
    }
    this.#available = ready;
    if (!ready) this.#failuresInRow = 0;
  }
}
