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

  it('refuses an entry that is none of the four kinds', () => {
    expect(() => compileUrlPolicy(['http://mirror.example.com'])).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(() => compileUrlPolicy(['10.0.0.0/40'])).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});
