/**
 * Trust of source addresses (SPEC §1, a **fix** over SEMS): the headers that select or
 * parameterise applications count only when the request comes from a configured proxy.
 */
import { BlockList, isIP } from 'node:net';

/** The headers a proxy uses to select and parameterise applications. */
export const APP_HEADERS = ['P-App-Name', 'P-App-Param', 'P-Final-Reply-Code', 'P-Final-Reply-Reason'] as const;

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
