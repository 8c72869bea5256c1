import { LightsoutError } from '@lightsout/shared';

/** One IPv4 range of the discovery config, as 32-bit numbers. */
export interface Ipv4Range {
  cidr: string;
  /** The first address probed (the network address itself is skipped, see addressesOf). */
  network: number;
  prefix: number;
}

/** The widest range one entry may name: a /16 is 65,536 addresses, a whole datacenter's OOB network. */
export const WIDEST_PREFIX = 16;

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = `${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}`;
const CIDR = new RegExp(`^${IPV4}/(\\d{1,2})$`);
const ADDRESS = new RegExp(`^${IPV4}$`);

/** The four octets of a match as one 32-bit number. */
function ipv4Number(match: RegExpExecArray): number {
  return ((Number(match[1]) << 24) | (Number(match[2]) << 16) | (Number(match[3]) << 8) | Number(match[4])) >>> 0;
}

/**
 * `10.0.8.0/22` → its range; a host part that is not zero is refused (a typo more often than not).
 * `widest`: the shortest prefix taken (a credential set's ranges bound no scan, so they may be wider).
 */
export function parseCidr(cidr: string, widest = WIDEST_PREFIX): Ipv4Range {
  const match = CIDR.exec(cidr.trim());
  if (match === null) throw new LightsoutError('CONFIG_INVALID', `discovery range ${JSON.stringify(cidr)} is not an IPv4 CIDR (a.b.c.d/n)`);
  const prefix = Number(match[5]);
  if (prefix < widest || prefix > 32) throw new LightsoutError('CONFIG_INVALID', `discovery range ${cidr}: the prefix must be /${widest} to /32`);
  const value = ipv4Number(match);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((value & ~mask) >>> 0 !== 0) throw new LightsoutError('CONFIG_INVALID', `discovery range ${cidr} has host bits set; did you mean ${formatIpv4((value & mask) >>> 0)}/${prefix}?`);
  return { cidr: `${formatIpv4(value)}/${prefix}`, network: value, prefix };
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * The addresses a scan probes, in order. Up to a /30 the network and
 * broadcast addresses are left out: a datagram to the broadcast address of
 * an OOB network would reach every BMC on it at once (RFC 919), and no host
 * holds the network address. /31 (RFC 3021) and /32 are probed whole.
 */
export function addressesOf(range: Ipv4Range): string[] {
  const size = 2 ** (32 - range.prefix);
  const edges = range.prefix <= 30;
  const addresses: string[] = [];
  for (let offset = edges ? 1 : 0; offset < (edges ? size - 1 : size); offset++) addresses.push(formatIpv4((range.network + offset) >>> 0));
  return addresses;
}

/** Every address of the ranges once, in the order the ranges are named. */
export function scanTargets(cidrs: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const cidr of cidrs) for (const address of addressesOf(parseCidr(cidr))) seen.add(address);
  return [...seen];
}

/** Whether `address` is one scanTargets(cidrs) probes: adoption only takes an address discovery could have found. */
export function withinRanges(address: string, cidrs: readonly string[]): boolean {
  const match = ADDRESS.exec(address);
  if (match === null) return false;
  const value = ipv4Number(match);
  return cidrs.some((cidr) => {
    const range = parseCidr(cidr);
    const offset = value - range.network;
    const size = 2 ** (32 - range.prefix);
    // The same addresses addressesOf probes: up to a /30 without the network and broadcast addresses.
    return range.prefix <= 30 ? offset >= 1 && offset < size - 1 : offset >= 0 && offset < size;
  });
}

/** Whether `address` (dotted IPv4) lies in one of `cidrs`, network and broadcast addresses included. */
export function inCidrs(address: string, cidrs: readonly string[]): boolean {
  const match = ADDRESS.exec(address);
  if (match === null) return false;
  const value = ipv4Number(match);
  return cidrs.some((cidr) => {
    const range = parseCidr(cidr, 0);
    return value - range.network >= 0 && value - range.network < 2 ** (32 - range.prefix);
  });
}
