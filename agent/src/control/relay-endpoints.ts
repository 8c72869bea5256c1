import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/**
 * One place the agent can reach a relay (a gateway): the base URL from the
 * config and, when its host name resolved to several addresses, the one
 * address this endpoint stands for. Connections to an endpoint are pinned to
 * its address (`pinnedLookup`) while the URL's host name stays what TLS
 * verifies and what the Host header says, so a stream's dial-back reaches the
 * same replica that holds the agent's control connection.
 */
export interface RelayEndpoint {
  /** `https://gw1.example.net` (no trailing slash). */
  url: string;
  address?: string;
  family?: number;
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/**
 * The endpoints of `urls`, in order: a URL whose host name resolves to
 * several addresses gives one endpoint per address. A name that does not
 * resolve now stays in the list unpinned (the attempt then fails like any
 * unreachable gateway, and the next round resolves again).
 */
export async function resolveRelayEndpoints(urls: readonly string[], resolver: Resolver = systemResolver): Promise<RelayEndpoint[]> {
  const endpoints: RelayEndpoint[] = [];
  for (const url of urls) {
    const hostname = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(hostname) !== 0) {
      endpoints.push({ url });
      continue;
    }
    let addresses: LookupAddress[];
    try {
      addresses = await resolver(hostname);
    } catch {
      addresses = [];
    }
    if (addresses.length <= 1) endpoints.push({ url });
    else for (const { address, family } of addresses) endpoints.push({ url, address, family });
  }
  return endpoints;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http/ws options that answers with the endpoint's address (undefined when not pinned). */
export function pinnedLookup(endpoint: RelayEndpoint): ((hostname: string, options: { all?: boolean }, callback: LookupCallback) => void) | undefined {
  const { address, family } = endpoint;
  if (address === undefined) return undefined;
  const resolvedFamily = family ?? (isIP(address) === 6 ? 6 : 4);
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family: resolvedFamily }]);
    else callback(null, address, resolvedFamily);
  };
}

/** How an endpoint shows in logs: the URL, and the address when pinned. */
export function describeEndpoint(endpoint: RelayEndpoint): string {
  return endpoint.address === undefined ? endpoint.url : `${endpoint.url} (${endpoint.address})`;
}

/** `https://relay` → `wss://relay/v1/agent/connect` */
export function controlUrlOf(relay: string): string {
  const url = new URL('/v1/agent/connect', `${relay}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
