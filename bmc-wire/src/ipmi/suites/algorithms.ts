import type { HashName } from '../crypto.js';

// RMCP+ algorithm numbers, IPMI v2.0 §13.28 tables 13-17 (authentication),
// 13-18 (integrity) and 13-19 (confidentiality). Everything about one algorithm
// is in its entry: the hash it uses and how many bytes it keeps.

export interface AuthenticationAlgorithm {
  id: number;
  name: string;
  /** null = RAKP-none: no HMACs are exchanged (suite 0). */
  hash: HashName | null;
  /** Bytes of the RAKP4 integrity check value (§13.31: SHA1 → 12, SHA256 → 16, MD5 → 16). */
  rakp4IcvLength: number;
}

export interface IntegrityAlgorithm {
  id: number;
  name: string;
  hash: HashName | null;
  /** Bytes of AuthCode in the session trailer (§13.28.4). */
  authCodeLength: number;
}

export interface ConfidentialityAlgorithm {
  id: number;
  name: string;
  /** AES-CBC-128 is the only one we implement; xRC4 is refused (§13.29). */
  aes: boolean;
}

export const AUTHENTICATION = {
  none: { id: 0x00, name: 'RAKP-none', hash: null, rakp4IcvLength: 0 },
  hmacSha1: { id: 0x01, name: 'RAKP-HMAC-SHA1', hash: 'sha1', rakp4IcvLength: 12 },
  hmacMd5: { id: 0x02, name: 'RAKP-HMAC-MD5', hash: 'md5', rakp4IcvLength: 16 },
  hmacSha256: { id: 0x03, name: 'RAKP-HMAC-SHA256', hash: 'sha256', rakp4IcvLength: 16 },
} as const satisfies Record<string, AuthenticationAlgorithm>;

export const INTEGRITY = {
  none: { id: 0x00, name: 'none', hash: null, authCodeLength: 0 },
  hmacSha1_96: { id: 0x01, name: 'HMAC-SHA1-96', hash: 'sha1', authCodeLength: 12 },
  hmacMd5_128: { id: 0x02, name: 'HMAC-MD5-128', hash: 'md5', authCodeLength: 16 },
  hmacSha256_128: { id: 0x04, name: 'HMAC-SHA256-128', hash: 'sha256', authCodeLength: 16 },
} as const satisfies Record<string, IntegrityAlgorithm>;

export const CONFIDENTIALITY = {
  none: { id: 0x00, name: 'none', aes: false },
  aesCbc128: { id: 0x01, name: 'AES-CBC-128', aes: true },
} as const satisfies Record<string, ConfidentialityAlgorithm>;

export function authenticationById(id: number): AuthenticationAlgorithm | undefined {
  return Object.values(AUTHENTICATION).find((algorithm) => algorithm.id === id);
}

export function integrityById(id: number): IntegrityAlgorithm | undefined {
  return Object.values(INTEGRITY).find((algorithm) => algorithm.id === id);
}

export function confidentialityById(id: number): ConfidentialityAlgorithm | undefined {
  return Object.values(CONFIDENTIALITY).find((algorithm) => algorithm.id === id);
}
