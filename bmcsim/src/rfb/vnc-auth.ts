import { createCipheriv, timingSafeEqual } from 'node:crypto';

/**
 * VNC authentication (RFC 6143 §7.2.2): the client DES-encrypts the 16-byte
 * challenge with the password (first 8 bytes, NUL-padded) as key, each key
 * byte bit-reversed. OpenSSL 3 keeps single DES in its legacy provider, but
 * three-key DES-EDE with K1 = K2 = K3 is exactly single DES and is always
 * available, so the default provider suffices.
 */
export function vncAuthResponse(password: string, challenge: Uint8Array): Uint8Array {
  const keyBytes = new Uint8Array(8);
  keyBytes.set(new TextEncoder().encode(password).subarray(0, 8));
  return vncDesEncrypt(keyBytes, challenge);
}

/** DES-ECB as VNC's d3des does it: the 8 key bytes are used bit-reversed. */
export function vncDesEncrypt(keyBytes: Uint8Array, data: Uint8Array): Uint8Array {
  const key = Buffer.from(keyBytes.subarray(0, 8).map(reverseBits));
  const cipher = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

export function vncAuthMatches(password: string, challenge: Uint8Array, response: Uint8Array): boolean {
  const expected = vncAuthResponse(password, challenge);
  return response.length === expected.length && timingSafeEqual(expected, response);
}

function reverseBits(byte: number): number {
  let result = 0;
  for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) result |= 0x80 >> bit;
  return result;
}
