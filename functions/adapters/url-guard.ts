/**
 * SSRF protection for the URLs Sundial calls (HTTP targets and failure webhooks): no
 * loopback, link-local (the instance metadata service among them), private, shared or
 * reserved address, checked when a job is saved and again on the address each call
 * actually connects to, so a DNS answer that changes in between (rebinding) gains
 * nothing. Hosts named in the allowlist (ALLOWED_HTTP_HOSTS) skip the check.
 */
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 (instance metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64: reaches IPv4 space
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments, incl. Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds IPv4 addresses
  ['fc00::', 7], // unique local, incl. fd00:ec2::254 (instance metadata over IPv6)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is one Sundial must not call. */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1, or its hex form) is the IPv4 address.
  const mapped = /^::ffff:(?:0+:)?(.+)$/i.exec(bare)?.[1];
  if (mapped) {
    if (isIP(mapped) === 4) return blocked.check(mapped, 'ipv4');
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(mapped);
    if (hex) {
      const n = (Number.parseInt(hex[1]!, 16) << 16) | Number.parseInt(hex[2]!, 16);
      return blocked.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4');
    }
  }
  return blocked.check(bare, 'ipv6');
}

export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

export interface UrlGuardOptions {
  /** Hosts (exact, or `*.example.com`) that may be internal: an operator's choice. */
  allowedHosts: readonly string[];
  /** Replaces DNS (tests). */
  resolve?: Resolve;
}

export class UrlGuard {
  private readonly resolve: Resolve;

  constructor(private readonly options: UrlGuardOptions) {
    this.resolve = options.resolve ?? systemResolve;
  }

  isAllowedHost(hostname: string): boolean {
    const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
    return this.options.allowedHosts.some((pattern) => {
      const p = pattern.toLowerCase().replace(/^\[|\]$/g, '');
      return p.startsWith('*.') ? host.endsWith(p.slice(1)) : host === p;
    });
  }

  /** Why this URL may not be called, or null when it may (resolving its host now). */
  async refusal(url: string): Promise<string | null> {
    const { hostname } = new URL(url);
    if (this.isAllowedHost(hostname)) return null;
    const bare = hostname.replace(/^\[|\]$/g, '');
    if (isIP(bare)) return isInternalAddress(bare) ? internal(bare) : null;
    let addresses: { address: string }[];
    try {
      addresses = await this.resolve(bare);
    } catch (error) {
      return `its host ${bare} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'DNS error'})`;
    }
    const bad = addresses.find((a) => isInternalAddress(a.address));
    return bad ? internal(bad.address, bare) : null;
  }

  /**
   * A `lookup` for http.request: resolves as usual, and fails the connection if the host
   * resolves to an internal address. The socket connects only to what this returned.
   */
  connectLookup(): LookupFunction {
    return (hostname, options, callback) => {
      const respond = callback as (
        error: NodeJS.ErrnoException | null,
        address: string | { address: string; family: number }[],
        family?: number,
      ) => void;
      if (this.isAllowedHost(hostname)) {
        dnsLookup(hostname, options, callback);
        return;
      }
      this.resolve(hostname).then(
        (addresses) => {
          const bad = addresses.find((a) => isInternalAddress(a.address));
          if (bad || addresses.length === 0) {
            const error: NodeJS.ErrnoException = new Error(
              bad ? internal(bad.address, hostname) : `${hostname} does not resolve`,
            );
            error.code = 'ESUNDIALBLOCKED';
            respond(error, '', 4);
            return;
          }
          if (options.all) respond(null, addresses);
          else respond(null, addresses[0]!.address, addresses[0]!.family);
        },
        (error: NodeJS.ErrnoException) => respond(error, '', 4),
      );
    };
  }
}

function internal(address: string, host?: string): string {
  const via = host ? `its host ${host} resolves to ${address}` : `${address} is`;
  return `${via}${host ? ',' : ''} an internal (loopback, link-local, private or reserved) address; Sundial does not call those unless the host is in ALLOWED_HTTP_HOSTS`;
}
