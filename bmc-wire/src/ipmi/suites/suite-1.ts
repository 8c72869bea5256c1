import { AUTHENTICATION, CONFIDENTIALITY, INTEGRITY } from './algorithms.js';
import type { CipherSuite } from './cipher-suite.js';

/** Cipher suite 1 (IPMI v2.0 §22.15.2 table 22-20): RAKP with HMAC-SHA1, then plaintext unauthenticated packets. */
export const cipherSuite1: CipherSuite = {
  id: 1,
  authentication: AUTHENTICATION.hmacSha1,
  integrity: INTEGRITY.none,
  confidentiality: CONFIDENTIALITY.none,
};
