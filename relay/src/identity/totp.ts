import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * TOTP second factor (RFC 6238) over HOTP (RFC 4226), HMAC-SHA1, 6 digits,
 * 30-second steps: what every authenticator app does by default. Secrets are
 * 20 random bytes, base32 (RFC 4648 §6) in otpauth:// URIs.
 */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let output = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      output += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) output += BASE32[(value << (5 - bits)) & 31];
  return output;
}

export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/=+$/, '').replace(/\s+/g, '');
  if (clean.length > 256 || !/^[A-Z2-7]*$/.test(clean)) throw new Error('not base32');
  let bits = 0;
  let value = 0;
  const output: number[] = [];
  for (const character of clean) {
    value = (value << 5) | BASE32.indexOf(character);
    bits += 5;
    if (bits >= 8) {
      output.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(output);
}

/** RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0. */
export function totp(secret: Uint8Array, unixSeconds: number, digits = TOTP_DIGITS, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  return hotp(secret, Math.floor(unixSeconds / TOTP_STEP_SECONDS), digits, algorithm);
}

/**
 * The time step a code belongs to: this step or one either side (clock skew,
 * RFC 6238 §5.2), and later than `afterStep` (a step already used is not
 * accepted again, same section). Constant-time comparison, every candidate checked.
 */
export function totpStepOf(base32Secret: string, code: string, unixSeconds = Date.now() / 1000, afterStep = -1): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const secret = base32Decode(base32Secret);
  const current = Math.floor(unixSeconds / TOTP_STEP_SECONDS);
  let matched: number | undefined;
  for (const step of [current - 1, current, current + 1]) {
    const expected = Buffer.from(hotp(secret, step));
    if (timingSafeEqual(expected, Buffer.from(code)) && step > afterStep) matched = step;
  }
  return matched;
}

/** A code from this step or one step either side (clock skew, RFC 6238 §5.2). */
export function verifyTotp(base32Secret: string, code: string, unixSeconds = Date.now() / 1000): boolean {
  return totpStepOf(base32Secret, code, unixSeconds) !== undefined;
}

export function newTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

export function otpauthUri(secret: string, account: string, issuer = 'Lightsout'): string {
  return `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?secret=${secret}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_STEP_SECONDS}`;
}
