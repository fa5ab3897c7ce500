// Where Kiln may send notifications (no SSRF): `https` only, unless KILN_SUBSCRIPTION_ALLOW_HTTP
// lists the host, and never to a loopback, private, link-local or otherwise internal address unless
// the host is listed. The address is checked when the Subscription is written (a literal address
// or `localhost`) and again on every connection, on the addresses the name resolves to then, so a
// name that later resolves inward (DNS rebinding) is still refused.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** An address Kiln does not send to unless its host is listed. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it is.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1], 'ipv4');
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class EndpointGuard {
  private readonly listed: Set<string>;

  /** `allowed`: KILN_SUBSCRIPTION_ALLOW_HTTP, host names or `host:port`, separated by commas. */
  constructor(allowed: string | undefined) {
    this.listed = new Set(
      (allowed ?? '')
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter(Boolean),
    );
  }

  isListed(url: URL): boolean {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    return this.listed.has(host) || this.listed.has(`${host}:${url.port}`) || this.listed.has(url.host.toLowerCase());
  }

  /** Why Kiln will not send to `endpoint`, judged without resolving names; undefined when it may try. */
  refusal(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'is not an absolute URL';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL';
    if (url.username || url.password) return 'must not carry a user name or password; send credentials in channel.header';
    if (this.isListed(url)) return undefined;
    if (url.protocol === 'http:') return `must be https (http is allowed only for hosts listed in KILN_SUBSCRIPTION_ALLOW_HTTP)`;
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host.endsWith('.localhost') || isInternalAddress(host)) {
      return `points at a loopback or private address (allowed only for hosts listed in KILN_SUBSCRIPTION_ALLOW_HTTP)`;
    }
    return undefined;
  }

  /**
   * A `lookup` for an outgoing connection to `url`: the name's addresses as resolved now, refused
   * when one of them is internal and the host is not listed.
   */
  lookupFor(url: URL): LookupFunction {
    const listed = this.isListed(url);
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0);
        const list = addresses as unknown as LookupAddress[];
        const inward = list.find((a) => isInternalAddress(a.address));
        if (inward && !listed) {
          const refused = Object.assign(new Error(`${hostname} resolves to ${inward.address}, a loopback or private address; list the host in KILN_SUBSCRIPTION_ALLOW_HTTP to allow it`), {
            code: 'KILN_ENDPOINT_REFUSED',
          });
          return callback(refused, '', 0);
        }
        if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
        callback(null, list[0].address, list[0].family);
      });
    };
  }
}
