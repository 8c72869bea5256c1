import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, hotp, newTotpSecret, totp, totpStepOf, verifyTotp } from './totp.js';

describe('TOTP (RFC 6238) and HOTP (RFC 4226)', () => {
  it('matches the RFC 4226 Appendix D HOTP values', () => {
    const secret = Buffer.from('12345678901234567890');
    expect(Array.from({ length: 10 }, (_, counter) => hotp(secret, counter))).toEqual(['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']);
  });

  it('matches the RFC 6238 Appendix B test vectors (8 digits, SHA-1/256/512)', () => {
    const seeds = { sha1: Buffer.from('12345678901234567890'), sha256: Buffer.from('12345678901234567890123456789012'), sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234') };
    const vectors: Array<[number, string, string, string]> = [
      [59, '94287082', '46119246', '90693936'],
      [1111111109, '07081804', '68084774', '25091201'],
      [1111111111, '14050471', '67062674', '99943326'],
      [1234567890, '89005924', '91819424', '93441116'],
      [2000000000, '69279037', '90698825', '38618901'],
      [20000000000, '65353130', '77737706', '47863826'],
    ];
    for (const [time, sha1, sha256, sha512] of vectors) {
      expect([totp(seeds.sha1, time, 8, 'sha1'), totp(seeds.sha256, time, 8, 'sha256'), totp(seeds.sha512, time, 8, 'sha512')]).toEqual([sha1, sha256, sha512]);
    }
  });

  it('round-trips base32 (RFC 4648 §10 vectors) and refuses non-base32', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI======').toString()).toBe('foobar');
    expect(() => base32Decode('not base32!')).toThrow();
  });

  it('accepts the current code and one step of skew, nothing further, nothing malformed', () => {
    const secret = newTotpSecret();
    const now = 1_800_000_000;
    const code = totp(base32Decode(secret), now);
    expect(verifyTotp(secret, code, now)).toBe(true);
    expect(verifyTotp(secret, code, now + 30)).toBe(true);
    expect(verifyTotp(secret, code, now + 90)).toBe(false);
    expect(verifyTotp(secret, '12345', now)).toBe(false);
    expect(verifyTotp(secret, `${code} `, now)).toBe(false);
  });

  it('tells the step a code belongs to, and refuses a step not after the last one used', () => {
    const secret = newTotpSecret();
    const now = 1_800_000_010;
    const step = Math.floor(now / 30);
    expect(totpStepOf(secret, totp(base32Decode(secret), now - 30), now)).toBe(step - 1);
    expect(totpStepOf(secret, totp(base32Decode(secret), now), now, step - 1)).toBe(step);
    expect(totpStepOf(secret, totp(base32Decode(secret), now), now, step)).toBeUndefined();
    expect(totpStepOf(secret, totp(base32Decode(secret), now - 30), now, step)).toBeUndefined();
  });
});
