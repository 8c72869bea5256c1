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
 *
 * An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64's 64:ff9b::/96,
 * IPv4-compatible) reaches that IPv4 address, and is judged as it too: never
 * when the IPv4 address is never, and internal then only if the policy allows
 * the IPv4 address itself. IPv6 entries allow IPv6 addresses only (Node's
 * BlockList would match 1.2.3.4 against ::/0 through its mapped form).
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
/** 64:ff9b:1::/48 is for local-use NAT64 (RFC 8215 §2), whose prefix length, and so where the IPv4 address sits, is the network's own choice. */
const NEVER_V6: [string, number][] = [['::', 128], ['fe80::', 10], ['ff00::', 8], ['64:ff9b:1::', 48]];

/** `agentNetworks`: the agent's own interfaces as CIDR (os.networkInterfaces), internal whatever their range. */
export function compileUrlPolicy(allow: readonly string[], agentNetworks: readonly string[] = []): UrlPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const allowedAddresses = { ipv4: new BlockList(), ipv6: new BlockList() };
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase();
    const block = parseBlock(entry);
    if (block) {
      if (block.prefix === undefined) allowedAddresses[block.family].addAddress(block.address, block.family);
      else allowedAddresses[block.family].addSubnet(block.address, block.prefix, block.family);
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
  const allowed = (address: string) => {
    const plain = unmapped(address);
    return isIP(plain) === 6 ? allowedAddresses.ipv6.check(plain, 'ipv6') : allowedAddresses.ipv4.check(plain, 'ipv4');
  };
  const isNever = (address: string) => {
    const carried = embeddedIpv4(address);
    return check(never, address) || (carried !== undefined && check(never, carried));
  };
  return {
    allowsHost(host) {
      const plain = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
      if (isIP(plain)) return !isNever(plain) && allowed(plain);
      return names.has(plain) || suffixes.some((suffix) => plain.endsWith(suffix) && plain.length > suffix.length);
    },
    allowsAddress(address) {
      if (isIP(unmapped(address)) === 0) return false;
      if (isNever(address)) return false;
      const carried = embeddedIpv4(address);
      if (carried !== undefined && check(internal, carried)) return allowed(carried);
      if (allowed(address)) return true;
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

/**
 * The IPv4 address an IPv6 one reaches, or undefined: IPv4-mapped (::ffff:0:0/96, RFC 4291 §2.5.5.2),
 * NAT64's well-known prefix (64:ff9b::/96, the IPv4 address in the last 32 bits: RFC 6052 §2.2), and
 * IPv4-compatible (::/96 but :: and ::1, RFC 4291 §2.5.5.1; deprecated, still routed by some stacks).
 */
function embeddedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const groups = ipv6Groups(address);
  const zeroUpTo = (end: number) => groups.slice(0, end).every((group) => group === 0);
  const mapped = zeroUpTo(5) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  const compatible = zeroUpTo(6) && !(groups[6] === 0 && groups[7]! <= 1);
  if (!mapped && !nat64 && !compatible) return undefined;
  return ipv4Of(groups);
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups, a zone dropped). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [high, low] = [(Number(dotted[1]) << 8) | Number(dotted[2]), (Number(dotted[3]) << 8) | Number(dotted[4])];
    text = `${text.slice(0, dotted.index)}${high.toString(16)}:${low.toString(16)}`;
  }
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const [head = '', tail] = text.split('::');
  const left = groupsOf(head);
  if (tail === undefined) return left;
  const right = groupsOf(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * `::ffff:127.0.0.1` is 127.0.0.1: an IPv4-mapped address is checked as the IPv4 address it reaches,
 * written either way (a URL's host has it as `::ffff:7f00:1`).
 */
function unmapped(address: string): string {
  const lower = address.toLowerCase();
  if (isIP(lower) !== 6) return lower;
  const groups = ipv6Groups(lower);
  return groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff ? ipv4Of(groups) : lower;
}

/** The last 32 bits of an IPv6 address's groups, dotted. */
function ipv4Of(groups: readonly number[]): string {
  return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
}
