import { AUTHENTICATION, CONFIDENTIALITY, INTEGRITY } from './algorithms.js';
import type { CipherSuite } from './cipher-suite.js';

/** Cipher suite 2 (IPMI v2.0 §22.15.2 table 22-20): HMAC-SHA1 RAKP and HMAC-SHA1-96 integrity, no encryption. */
export const cipherSuite2: CipherSuite = {
  id: 2,
  authentication: AUTHENTICATION.hmacSha1,
  integrity: INTEGRITY.hmacSha1_96,
  confidentiality: CONFIDENTIALITY.none,
};
