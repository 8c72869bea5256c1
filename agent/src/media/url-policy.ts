import { BlockList, isIP } from 'node:net';
import { LightsoutError } from '@lightsout/shared';

/**
 * The tenant's media URL policy as the agent enforces it, at every request
 * of a fetch (the first and each redirect) and for every address a host
 * name resolves to. The agent sits inside the datacenter: without these
 * checks a mount by URL would let a tenant make it fetch from anything it
 * reaches (a BMC's web UI, the metadata service, the agent's own ports).
 *
 * Entries (MediaUrlPolicy.allow): `mirror.example.com` (that name),
 * `*.example.com` (names under it, not itself), `192.0.2.7` or `2001:db8::7`
 * (that address), `10.20.0.0/16` (that block).
 *
 * A URL's host must match a name entry (a name) or an address entry (an IP
 * literal). Each address a name resolves to must then be public, or be
 * allowed by an address entry itself: a name that resolves to loopback,
 * link-local, private, shared (CGNAT), multicast or an address of the
 * agent's own networks obeys the policy as written, not the name it came by.
 */
export interface UrlPolicy {
  /** Whether a URL's host (lower case, IPv6 without brackets) is allowed by the entries. */
  allowsHost(host: string): boolean;
  /** Whether a resolved (or literal) address may be connected to. */
  allowsAddress(address: string): boolean;
}

/** Address blocks no public image server has (RFC 6890 special-purpose registries). */
const INTERNAL_V4: [string, number][] = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const INTERNAL_V6: [string, number][] = [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['64:ff9b:1::', 48]];
/**
 * Never fetched from, whatever the policy allows: link-local addresses (the
 * cloud metadata service at 169.254.169.254, a BMC's host interface, IPv6
 * link-local), unspecified and multicast ones. No image server lives there,
 * and a policy block as wide as 0.0.0.0/0 must not reach them.
 */
const NEVER_V4: [string, number][] = [['0.0.0.0', 8], ['169.254.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]];
const NEVER_V6: [string, number][] = [['::', 128], ['fe80::', 10], ['ff00::', 8]];

/** `agentNetworks`: the agent's own interfaces as CIDR (os.networkInterfaces), internal whatever their range. */
export function compileUrlPolicy(allow: readonly string[], agentNetworks: readonly string[] = []): UrlPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const allowedAddresses = new BlockList();
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase();
    const block = parseBlock(entry);
    if (block) {
      if (block.prefix === undefined) allowedAddresses.addAddress(block.address, block.family);
      else allowedAddresses.addSubnet(block.address, block.prefix, block.family);
    } else if (/^\*\.[a-z0-9.-]+$/.test(entry) && isHostName(entry.slice(2))) {
      suffixes.push(entry.slice(1));
    } else if (isHostName(entry)) {
      names.add(entry.replace(/\.$/, ''));
    } else {
      throw new LightsoutError('VALIDATION_FAILED', `media URL policy entry ${JSON.stringify(raw)} is not a host name, *.domain, IP address or CIDR block`);
    }
  }
  const never = new BlockList();
  for (const [address, prefix] of NEVER_V4) never.addSubnet(address, prefix, 'ipv4');
  for (const [address, prefix] of NEVER_V6) never.addSubnet(address, prefix, 'ipv6');
  const internal = new BlockList();
  for (const [address, prefix] of INTERNAL_V4) internal.addSubnet(address, prefix, 'ipv4');
  for (const [address, prefix] of INTERNAL_V6) internal.addSubnet(address, prefix, 'ipv6');
  for (const network of agentNetworks) {
    const block = parseBlock(network.toLowerCase());
    if (block?.prefix !== undefined) internal.addSubnet(block.address, block.prefix, block.family);
  }
  const check = (list: BlockList, address: string) => {
    const plain = unmapped(address);
    const family = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
    return list.check(plain, family);
  };
  return {
    allowsHost(host) {
      const plain = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
      if (isIP(plain)) return !check(never, plain) && check(allowedAddresses, plain);
      return names.has(plain) || suffixes.some((suffix) => plain.endsWith(suffix) && plain.length > suffix.length);
    },
    allowsAddress(address) {
      if (isIP(unmapped(address)) === 0) return false;
      if (check(never, address)) return false;
      if (check(allowedAddresses, address)) return true;
      return !check(internal, address);
    },
  };
}

function parseBlock(entry: string): { address: string; prefix?: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = entry.split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) return { address, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix: Number(prefixText), family };
}

function isHostName(name: string): boolean {
  const plain = name.replace(/\.$/, '');
  return plain.length > 0 && plain.length <= 253 && plain.split('.').every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}

/** `::ffff:127.0.0.1` is 127.0.0.1: an IPv4-mapped address is checked as the IPv4 address it reaches. */
function unmapped(address: string): string {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1]! : lower;
}
