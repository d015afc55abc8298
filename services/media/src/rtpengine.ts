/**
 * The one adapter around rtpengine-client 0.4.12, working around its known defects:
 * - it requires `debug` without declaring it (declared in this package's dependencies);
 * - its option is `rejectOnError` (not what its README says), and we leave it off so that
 *   rtpengine's own `error-reason` reaches us and becomes a ServiceError with that text;
 * - it decodes every reply as UTF-8 strings, corrupting binary `blob` payloads, so we never send
 *   or expect blobs: audio is played from files in the folder rtpengine shares with us.
 * A health probe (`ping`) runs in the background so that, while rtpengine is down, new sessions
 * are refused at once with `service-unavailable` instead of each waiting for a timeout.
 */
import { createRequire } from 'node:module';
import { ServiceError } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';

/** An ng reply: `result` is ok / error / pong, other keys depend on the command. */
export interface NgReply {
  result?: string;
  'error-reason'?: string;
  [key: string]: unknown;
}

export type NgCommand =
  | 'offer'
  | 'answer'
  | 'delete'
  | 'list'
  | 'ping'
  | 'query'
  | 'startRecording'
  | 'stopRecording'
  | 'playMedia'
  | 'stopMedia'
  | 'blockDTMF'
  | 'unblockDTMF'
  | 'blockMedia'
  | 'unblockMedia'
  | 'statistics';

interface RawClient {
  on(event: 'error', listener: (error: unknown) => void): void;
  close(): void;
  [command: string]: unknown;
}
type RawClientConstructor = new (options: { localAddress?: string; localPort?: number; timeout: number; rejectOnError: boolean }) => RawClient;

const require = createRequire(import.meta.url);
const { Client } = require('rtpengine-client') as { Client: RawClientConstructor };

export interface RtpengineOptions {
  host: string;
  port: number;
  /** How long one command may take before rtpengine counts as unreachable. */
  timeoutMs: number;
  /** Interval of the background ping. */
  probeIntervalMs: number;
  log: Logger;
  /** Told how long each command took (`ok` or `error` when rtpengine answered, `timeout` when not). */
  timed?: (command: NgCommand, outcome: 'ok' | 'error' | 'timeout', seconds: number) => void;
}

export class Rtpengine {
  readonly #client: RawClient;
  readonly #target: { host: string; port: number };
  readonly #log: Logger;
  #up = false;
  #lastProbe = 0;
  #lastSuccess = 0;
  #probing: Promise<boolean> | undefined;
  #probe: NodeJS.Timeout | undefined;
  #reachable: (() => void) | undefined;
  readonly description: string;

  constructor(readonly options: RtpengineOptions) {
    this.#client = new Client({ localAddress: '0.0.0.0', localPort: 0, timeout: options.timeoutMs, rejectOnError: false });
    // The client emits `error` for late replies to commands that already timed out: not fatal.
    this.#client.on('error', (error) => options.log.debug({ err: String(error) }, 'rtpengine client error'));
    this.#target = { host: options.host, port: options.port };
    this.#log = options.log;
    this.description = `rtpengine at ${options.host}:${options.port}`;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Starts the background probe; resolves after the first answer (or failure). */
  async start(): Promise<void> {
    await this.probe();
    this.#probe = setInterval(() => void this.probe(), this.options.probeIntervalMs);
  }

  async probe(): Promise<boolean> {
    // One probe at a time; a late failure must not undo a success that came after it started.
    this.#probing ??= this.#probeOnce().finally(() => (this.#probing = undefined));
    return this.#probing;
  }

  async #probeOnce(): Promise<boolean> {
    const started = Date.now();
    this.#lastProbe = started;
    try {
      const reply = await this.#send('ping', {});
      if (reply.result !== 'pong') throw new Error(`ping answered ${String(reply.result)}`);
      this.#markUp();
    } catch (error) {
      if (this.#lastSuccess < started) this.#markDown(error);
    }
    return this.#up;
  }

  /** Told each time rtpengine answers after it did not (or for the first time): it may have restarted. */
  whenReachable(listener: () => void): void {
    this.#reachable = listener;
  }

  #markUp(): void {
    this.#lastSuccess = Date.now();
    if (this.#up) return;
    this.#log.info({ rtpengine: this.description }, 'rtpengine reachable');
    this.#up = true;
    this.#reachable?.();
  }

  #markDown(error: unknown): void {
    if (this.#up) this.#log.error({ rtpengine: this.description, err: errorText(error) }, 'rtpengine unreachable');
    this.#up = false;
  }

  /** Fails at once while the probe says rtpengine is down (asking again only if the last probe is old). */
  async ensureUp(): Promise<void> {
    if (this.#up) return;
    if (Date.now() - this.#lastProbe >= this.options.probeIntervalMs && (await this.probe())) return;
    throw new ServiceError('service-unavailable', `${this.description} does not answer; media sessions cannot be opened now`);
  }

  /** Sends a command; an rtpengine `error` result or no answer becomes a ServiceError. */
  async command(name: NgCommand, params: Record<string, unknown>): Promise<NgReply> {
    let reply: NgReply;
    const started = Date.now();
    const took = () => (Date.now() - started) / 1000;
    try {
      reply = await this.#send(name, params);
      this.#markUp();
    } catch (error) {
      this.options.timed?.(name, 'timeout', took());
      if (this.#lastSuccess < started) this.#markDown(error);
      throw new ServiceError('service-unavailable', `${this.description} did not answer ${name}: ${errorText(error)}`, { cause: error });
    }
    this.options.timed?.(name, reply.result === 'error' ? 'error' : 'ok', took());
    if (reply.result === 'error') {
      throw new ServiceError('internal', `${this.description} refused ${name}: ${String(reply['error-reason'] ?? 'no reason given')}`);
    }
    return reply;
  }

  /** Calls rtpengine currently holds (ng `list`). */
  async callIds(): Promise<string[]> {
    const reply = await this.command('list', { limit: 100_000 });
    const calls = reply.calls;
    return Array.isArray(calls) ? calls.map(String) : [];
  }

  async #send(name: NgCommand, params: Record<string, unknown>): Promise<NgReply> {
    const fn = this.#client[name];
    if (typeof fn !== 'function') throw new Error(`rtpengine-client has no command ${name}`);
    const reply: unknown = await (fn as (target: unknown, params: unknown) => Promise<unknown>).call(this.#client, this.#target, params);
    if (typeof reply !== 'object' || reply === null) throw new Error(`malformed reply to ${name}`);
    return reply as NgReply;
  }

  close(): void {
    clearInterval(this.#probe);
    this.#client.close();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
