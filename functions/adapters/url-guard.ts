/**
 * SSRF protection for the URLs Sundial calls (HTTP targets and failure webhooks): no
 * loopback, link-local (the instance metadata service among them), private, shared or
 * reserved address, checked when a job is saved and again on the address each call
 * actually connects to, so a DNS answer that changes in between (rebinding) gains
 * nothing. Entries of the allowlist (ALLOWED_HTTP_HOSTS) name a host *and* its ports
 * (`host:port`, `host:low-high`; a bare host means 80 and 443 only), so allowing a
 * host never opens every service on it; Sundial's own ports are refused whatever the
 * allowlist says (invariant 9).
 */

import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { UrlPolicy } from '../domain/ports.js';

/**
 * Taken from Node at the first lookup, not imported: loading node:dns is about 2 ms of
 * every cold start, and the api and the config check hosts without resolving any (issue 17).
 */
const dnsLookup: typeof import('node:dns').lookup = ((
  ...args: Parameters<typeof import('node:dns').lookup>
) => process.getBuiltinModule('node:dns').lookup(...args)) as typeof import('node:dns').lookup;

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
  ['::', 96], // unspecified, loopback and IPv4-compatible (::127.0.0.1, deprecated but routed by some stacks)
  ['64:ff9b::', 96], // NAT64: reaches IPv4 space
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215): reaches IPv4 space too
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
  /**
   * What may be called even at an internal address: an operator's choice. Each entry is
   * `host`, `host:port` or `host:low-high` (IPv6 in brackets, `*.example.com` for a
   * suffix); a bare host allows only ports 80 and 443.
   */
  allowedHosts: readonly string[];
  /** Ports of Sundial's own services on this machine (the local runtime): never called. */
  ownPorts?: readonly number[];
  /** Replaces DNS (tests). */
  resolve?: Resolve;
}

interface AllowEntry {
  host: string;
  low: number;
  high: number;
}

const ENTRY = /^(\[[0-9a-f:.]+\]|(?:\*\.)?[a-z0-9.-]+)(?::(\d{1,5})(?:-(\d{1,5}))?)?$/i;

/** Parses allowlist entries; throws naming the first malformed one. */
export function parseAllowedHosts(entries: readonly string[]): AllowEntry[] {
  return entries.flatMap((entry) => {
    const match = ENTRY.exec(entry.trim());
    const low = match?.[2] === undefined ? 80 : Number(match[2]);
    const high = match?.[3] === undefined ? (match?.[2] === undefined ? 443 : low) : Number(match[3]);
    if (!match || low < 1 || high > 65_535 || low > high) {
      throw new Error(
        `"${entry}" is not an allowed-host entry: host, host:port or host:low-high (IPv6 in brackets)`,
      );
    }
    const host = match[1]!.toLowerCase().replace(/^\[|\]$/g, '');
    // A bare host: the default ports only, not the range between them.
    if (match[2] === undefined)
      return [
        { host, low: 80, high: 80 },
        { host, low: 443, high: 443 },
      ];
    return [{ host, low, high }];
  });
}

/** The port a URL connects to. */
export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

export class UrlGuard implements UrlPolicy {
  private readonly resolve: Resolve;
  private readonly allowed: AllowEntry[];
  private readonly ownPorts: ReadonlySet<number>;

  constructor(options: UrlGuardOptions) {
    this.resolve = options.resolve ?? systemResolve;
    this.allowed = parseAllowedHosts(options.allowedHosts);
    this.ownPorts = new Set(options.ownPorts ?? []);
  }

  /**
   * Whether the allowlist names this URL's host and port. Sundial's own ports are never
   * named, whatever the allowlist says: they are refused as any internal address is, with
   * the same answer, so refusals cannot map which ports are Sundial's.
   */
  isAllowed(url: URL): boolean {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    const port = portOf(url);
    if (this.ownPorts.has(port)) return false;
    return this.allowed.some(
      (entry) =>
        port >= entry.low &&
        port <= entry.high &&
        (entry.host.startsWith('*.') ? host.endsWith(entry.host.slice(1)) : host === entry.host),
    );
  }

  /** Why the URL may not be called before any lookup (an internal address in it), or null. */
  literalRefusal(url: URL): string | null {
    if (this.isAllowed(url)) return null;
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    return isIP(bare) && isInternalAddress(bare) ? internal(bare) : null;
  }

  /** Why this URL may not be called, or null when it may (resolving its host now). */
  async refusal(url: string): Promise<string | null> {
    const parsed = new URL(url);
    const literal = this.literalRefusal(parsed);
    if (literal || this.isAllowed(parsed)) return literal;
    const bare = parsed.hostname.replace(/^\[|\]$/g, '');
    if (isIP(bare)) return null;
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
   * A `lookup` for http.request to this URL: resolves as usual, and fails the connection
   * if the host resolves to an internal address and the allowlist does not name the URL's
   * host and port. The socket connects only to what this returned.
   */
  connectLookup(url: URL): LookupFunction {
    const allowed = this.isAllowed(url);
    return (hostname, options, callback) => {
      const respond = callback as (
        error: NodeJS.ErrnoException | null,
        address: string | { address: string; family: number }[],
        family?: number,
      ) => void;
      if (allowed) {
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
  return `${via}${host ? ',' : ''} an internal (loopback, link-local, private or reserved) address; Sundial does not call those unless ALLOWED_HTTP_HOSTS names the host and port`;
}
