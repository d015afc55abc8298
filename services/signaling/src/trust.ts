/**
 * Trust (docs/behaviour.md §1, a **fix** over SEMS): one policy for every request. Only a configured proxy is
 * believed: its P-App headers choose and parameterise applications, and only through it may anyone
 * open, change or learn about a mailbox — listen to messages (voicebox, with or without a PIN),
 * record a greeting (annrecorder), subscribe to a mailbox's counts (SUBSCRIBE). A source that is
 * not a proxy gets 403 whatever would have selected the application (header, R-URI parameter,
 * R-URI user, mapping); at most it may leave a message (UNTRUSTED_CALLS=voicemail).
 */
import { BlockList, isIP } from 'node:net';
import type { Application } from '@sipvm/contracts';
import { Counter, type Registry } from 'prom-client';
import { contextOf, need, refuse } from './request-context.js';
import { header, type SipRequest, type Step } from './sip-stack.js';

/**
 * The headers a proxy uses to select and parameterise applications: SEMS's P-App headers, the
 * early-announce reply, and the e-mail address and language SER's `tw_append` adds (the seed
 * HOWTO's `voicemail_headers`).
 */
export const APP_HEADERS = ['P-App-Name', 'P-App-Param', 'P-Final-Reply-Code', 'P-Final-Reply-Reason', 'P-Email-Address', 'P-Language'] as const;
export type AppHeader = (typeof APP_HEADERS)[number];

export type UntrustedPolicy = 'ignore' | 'refuse';

export class TrustedSources {
  readonly #list = new BlockList();

  /** Entries are addresses (`10.0.0.5`, `::1`) or CIDR ranges (`10.0.0.0/8`, `fd00::/8`). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const problem = TrustedSources.check(entry);
      if (problem) throw new Error(problem);
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#list.addAddress(address, family);
      else this.#list.addSubnet(address, Number(bits), family);
    }
  }

  /** Why an entry is not an address or a CIDR range, or undefined when it is one. */
  static check(entry: string): string | undefined {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR range`;
    if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))) {
      return `"${entry}" has a bad prefix length`;
    }
    return undefined;
  }

  has(address: string): boolean {
    // drachtio reports IPv6 sources in brackets.
    const bare = address.replace(/^\[(.*)\]$/, '$1');
    const family = isIP(bare);
    if (family === 0) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
    if (mapped?.[1]) return this.#list.check(mapped[1], 'ipv4');
    return this.#list.check(bare, family === 6 ? 'ipv6' : 'ipv4');
  }
}

export interface TrustPolicyOptions {
  sources: TrustedSources;
  /** P-App headers from anyone else: refuse the request (403) or ignore the headers. */
  untrustedHeaders: UntrustedPolicy;
  /** INVITEs from anyone else: refused (403), or only to leave a message (`voicemail`). */
  untrustedCalls: 'refuse' | 'voicemail';
}

/** The applications a source that is not a proxy may reach: none, or leaving a message. */
export function mayReach(app: Application, trusted: boolean, untrustedCalls: TrustPolicyOptions['untrustedCalls']): boolean {
  return trusted || (untrustedCalls === 'voicemail' && app === 'voicemail');
}

export class TrustPolicy {
  readonly #options: TrustPolicyOptions;
  readonly #refused: Counter<'method'>;

  constructor(options: TrustPolicyOptions, registry: Registry) {
    this.#options = options;
    this.#refused = new Counter({
      name: 'sipvm_sip_untrusted_refused_total',
      help: 'Requests refused because their source is not a trusted proxy, by method',
      labelNames: ['method'],
      registers: [registry],
    });
  }

  /**
   * The step every INVITE and SUBSCRIBE takes first: is the source a proxy? P-App headers from
   * anyone else are refused or ignored; a SUBSCRIBE from anyone else is refused, and so is an
   * INVITE unless untrusted callers may leave messages (then `trustApplication` decides).
   */
  readonly trustSource: Step = (req, res, next) => {
    const context = contextOf(req);
    context.trusted = this.#options.sources.has(req.source_address);
    if (context.trusted) return next();
    const method = req.method.toUpperCase();
    if (APP_HEADERS.some((name) => header(req, name) !== undefined)) {
      if (this.#options.untrustedHeaders === 'refuse') return this.#refuse(req, res, 'P-App headers from untrusted source');
      context.log.debug({ source: req.source_address }, 'ignoring P-App headers from an untrusted source');
    }
    if (method !== 'INVITE' || this.#options.untrustedCalls === 'refuse') return this.#refuse(req, res, 'untrusted source');
    next();
  };

  /** After the application is chosen: a source that is not a proxy reaches no mailbox but to leave a message. */
  readonly trustApplication: Step = (req, res, next) => {
    const context = contextOf(req);
    const { app } = need(context.selection, 'the application');
    if (!mayReach(app, context.trusted, this.#options.untrustedCalls)) return this.#refuse(req, res, `${app} only through a trusted proxy`);
    next();
  };

  /** A P-App header's value if the source is trusted; from anyone else they count as absent. */
  appHeader(req: SipRequest, name: AppHeader): string | undefined {
    return contextOf(req).trusted ? header(req, name) : undefined;
  }

  #refuse(req: SipRequest, res: Parameters<Step>[1], why: string): void {
    this.#refused.inc({ method: req.method.toUpperCase() });
    refuse(req, res, 403, `Forbidden (${why})`);
  }
}
