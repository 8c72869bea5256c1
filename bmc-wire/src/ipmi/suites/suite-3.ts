import { AUTHENTICATION, CONFIDENTIALITY, INTEGRITY } from './algorithms.js';
import type { CipherSuite } from './cipher-suite.js';

/** Cipher suite 3 (IPMI v2.0 §22.15.2 table 22-20): the suite every IPMI 2.0 BMC has: HMAC-SHA1 / HMAC-SHA1-96 / AES-CBC-128. */
export const cipherSuite3: CipherSuite = {
  id: 3,
  authentication: AUTHENTICATION.hmacSha1,
  integrity: INTEGRITY.hmacSha1_96,
  confidentiality: CONFIDENTIALITY.aesCbc128,
};
