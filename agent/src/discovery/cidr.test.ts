import { describe, expect, it } from 'vitest';
import { addressesOf, parseCidr, scanTargets, withinRanges } from './cidr.js';

describe('discovery ranges', () => {
  it('lists a /22 without its network and broadcast addresses', () => {
    const addresses = addressesOf(parseCidr('10.0.8.0/22'));
    expect(addresses).toHaveLength(1022);
    expect(addresses[0]).toBe('10.0.8.1');
    expect(addresses.at(-1)).toBe('10.0.11.254');
  });

  it('probes a /31 and a /32 whole', () => {
    expect(addressesOf(parseCidr('192.0.2.4/31'))).toEqual(['192.0.2.4', '192.0.2.5']);
    expect(addressesOf(parseCidr('192.0.2.9/32'))).toEqual(['192.0.2.9']);
  });

  it('refuses host bits, prefixes wider than /16 and what is not a CIDR, with CONFIG_INVALID', () => {
    expect(() => parseCidr('10.0.8.1/22')).toThrow(/did you mean 10\.0\.8\.0\/22/);
    expect(() => parseCidr('10.0.0.0/15')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    for (const text of ['10.0.0.0', '10.0.0/24', '256.0.0.0/24', '::1/128', '10.0.0.0/33']) expect(() => parseCidr(text)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('probes an address named by two ranges once, and knows what lies within', () => {
    expect(scanTargets(['192.0.2.0/30', '192.0.2.0/31'])).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.0']);
    expect(withinRanges('192.0.2.77', ['192.0.2.0/24'])).toBe(true);
    expect(withinRanges('192.0.3.1', ['192.0.2.0/24'])).toBe(false);
    // Exactly what a scan probes: never the network or broadcast address of a /30 or wider, all of a /31.
    for (const cidrs of [['10.0.8.0/22'], ['192.0.2.0/30', '192.0.2.0/31'], ['198.51.100.7/32']]) {
      const probed = new Set(scanTargets(cidrs));
      for (const address of ['10.0.8.0', '10.0.8.1', '10.0.11.254', '10.0.11.255', '192.0.2.0', '192.0.2.3', '198.51.100.7', '198.51.100.8']) expect(withinRanges(address, cidrs)).toBe(probed.has(address));
    }
    for (const garbage of ['10.0.8.300', 'host.example', '']) expect(withinRanges(garbage, ['10.0.8.0/22'])).toBe(false);
  });
});
