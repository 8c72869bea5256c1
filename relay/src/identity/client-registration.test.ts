import { describe, expect, it } from 'vitest';
import { RegistrationWindow, registrantOf } from './client-registration.js';

const HOUR = 3_600_000;

describe('registrantOf', () => {
  it('is the address for IPv4 (also IPv4-mapped IPv6) and the /64 for IPv6', () => {
    expect(registrantOf('192.0.2.7')).toBe('192.0.2.7');
    expect(registrantOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(registrantOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(registrantOf('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(registrantOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(registrantOf('::1')).toBe('0:0:0:0::/64');
  });
});

describe('RegistrationWindow', () => {
  it('counts every address of one IPv6 /64 as one registrant', () => {
    const window = new RegistrationWindow(3);
    const now = 1_000_000;
    expect([1, 2, 3, 4].map((host) => window.admit(`2001:db8:7:7::${host}`, now))).toEqual([true, true, true, false]);
    expect(window.admit('2001:db8:7:8::1', now)).toBe(true);
    expect(window.admit('2001:db8:7:7::99', now + HOUR + 1)).toBe(true);
  });

  it('remembers at most maxRegistrants: newcomers are refused until the oldest age out, known ones keep their budget', () => {
    const window = new RegistrationWindow(2, 3);
    const now = 5_000_000;
    expect(['192.0.2.1', '192.0.2.2', '192.0.2.3'].map((address) => window.admit(address, now))).toEqual([true, true, true]);
    expect(window.admit('192.0.2.4', now + 1)).toBe(false);
    expect(window.admit('192.0.2.1', now + 2)).toBe(true);
    expect(window.registrants).toBe(3);
    // An hour after the first three, they are forgotten and a newcomer is admitted; the map stays bounded.
    expect(window.admit('192.0.2.4', now + HOUR + 3)).toBe(true);
    expect(window.registrants).toBeLessThanOrEqual(3);
  });
});
