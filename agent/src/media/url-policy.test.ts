import { describe, expect, it } from 'vitest';
import { compileUrlPolicy } from './url-policy.js';

describe('media URL policy', () => {
  it('matches names, domains, addresses and blocks as written', () => {
    const policy = compileUrlPolicy(['mirror.example.com', '*.images.example.org', '192.0.2.7', '10.20.0.0/16', '2001:db8::/32']);
    expect(policy.allowsHost('mirror.example.com')).toBe(true);
    expect(policy.allowsHost('MIRROR.example.com.')).toBe(true);
    expect(policy.allowsHost('evil-mirror.example.com')).toBe(false);
    expect(policy.allowsHost('a.images.example.org')).toBe(true);
    expect(policy.allowsHost('images.example.org')).toBe(false);
    expect(policy.allowsHost('192.0.2.7')).toBe(true);
    expect(policy.allowsHost('10.20.3.4')).toBe(true);
    expect(policy.allowsHost('10.21.3.4')).toBe(false);
    expect(policy.allowsHost('[2001:db8::1]')).toBe(true);
  });

  it('lets a name reach public addresses but internal ones only when allowed by address', () => {
    const policy = compileUrlPolicy(['mirror.example.com', '10.20.0.0/16'], ['192.0.2.0/24']);
    expect(policy.allowsAddress('203.0.113.9')).toBe(true);
    for (const internal of ['127.0.0.1', '169.254.169.254', '192.168.1.1', '172.16.0.1', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '192.0.2.50']) {
      expect(policy.allowsAddress(internal), internal).toBe(false);
    }
    expect(policy.allowsAddress('10.20.0.5')).toBe(true);
    expect(policy.allowsAddress('::ffff:10.20.0.5')).toBe(true);
    // As a URL writes it, and as a host literal.
    expect(policy.allowsAddress('::ffff:a14:5')).toBe(true);
    expect(policy.allowsHost(new URL('http://[::ffff:10.20.0.5]/').hostname)).toBe(true);
    expect(policy.allowsAddress('::ffff:7f00:1')).toBe(false);
  });

  it('never reaches link-local (the metadata service), unspecified or multicast addresses, however wide the policy; NAT64 is internal', () => {
    const wide = compileUrlPolicy(['0.0.0.0/0', '::/0']);
    for (const never of ['169.254.169.254', '::ffff:169.254.169.254', 'fe80::1', '0.0.0.0', '224.0.0.1', 'ff02::1']) {
      expect(wide.allowsAddress(never), never).toBe(false);
      expect(wide.allowsHost(never), never).toBe(false);
    }
    expect(wide.allowsAddress('10.1.2.3')).toBe(true);
    expect(compileUrlPolicy(['mirror.example.com']).allowsAddress('64:ff9b::a00:1')).toBe(false);
  });

  it('looks inside addresses that embed an IPv4 one: NAT64 (RFC 6052 §2.2), IPv4-compatible, and the local-use NAT64 block (RFC 8215) not at all', () => {
    // A URL's host is what WHATWG URL makes of it: hex groups, whichever way the tenant wrote it.
    expect(new URL('http://[64:ff9b::169.254.169.254]/').hostname).toBe('[64:ff9b::a9fe:a9fe]');
    for (const allow of [['::/0'], ['::/0', '0.0.0.0/0'], ['64:ff9b::/96', '64:ff9b:1::/48', '::/96']]) {
      const wide = compileUrlPolicy(allow);
      // 169.254.169.254 (the metadata service), 0.0.0.0 and 224.0.0.1 inside NAT64 and IPv4-compatible addresses; any local-use NAT64 one.
      for (const never of ['64:ff9b::a9fe:a9fe', '64:ff9b::169.254.169.254', '64:ff9b::', '64:ff9b::e000:1', '::a9fe:a9fe', '::169.254.169.254', '64:ff9b:1::a9fe:a9fe', '64:ff9b:1::cb00:7109', '64:ff9b:1:ffff::1']) {
        expect(wide.allowsAddress(never), `${allow.join(',')} ${never}`).toBe(false);
        expect(wide.allowsHost(never), `${allow.join(',')} ${never}`).toBe(false);
      }
    }
    // An internal IPv4 address inside NAT64 is internal: allowed only where the IPv4 address itself is.
    expect(compileUrlPolicy(['::/0']).allowsAddress('64:ff9b::7f00:1')).toBe(false);
    expect(compileUrlPolicy(['64:ff9b::/96']).allowsAddress('64:ff9b::a00:5')).toBe(false);
    expect(compileUrlPolicy(['::/0']).allowsAddress('::a00:5')).toBe(false);
    expect(compileUrlPolicy(['64:ff9b::/96', '10.0.0.0/8']).allowsAddress('64:ff9b::a00:5')).toBe(true);
    // A public one through NAT64 as before: the NAT64 block is internal, reached when the policy allows it.
    expect(compileUrlPolicy(['64:ff9b::/96']).allowsAddress('64:ff9b::cb00:7109')).toBe(true);
    expect(compileUrlPolicy(['mirror.example.com']).allowsAddress('64:ff9b::cb00:7109')).toBe(false);
    // :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible ones.
    expect(compileUrlPolicy(['::1']).allowsAddress('::1')).toBe(true);
    expect(compileUrlPolicy(['::/0']).allowsAddress('::')).toBe(false);
    expect(compileUrlPolicy(['::/0']).allowsAddress('2001:db8::a9fe:a9fe')).toBe(true);
    // IPv6 entries allow IPv6 addresses: ::/0 is not every internal IPv4 address through its mapped form.
    for (const internal of ['127.0.0.1', '10.0.0.5', '192.168.1.1']) {
      expect(compileUrlPolicy(['::/0']).allowsAddress(internal), internal).toBe(false);
      expect(compileUrlPolicy(['::/0']).allowsHost(internal), internal).toBe(false);
    }
  });

  it('refuses an entry that is none of the four kinds', () => {
    expect(() => compileUrlPolicy(['http://mirror.example.com'])).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(() => compileUrlPolicy(['10.0.0.0/40'])).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});
