import { AUTHENTICATION, CONFIDENTIALITY, INTEGRITY } from './algorithms.js';
import type { CipherSuite } from './cipher-suite.js';

/** Cipher suite 17 (IPMI v2.0 §22.15.2 table 22-20): HMAC-SHA256 / HMAC-SHA256-128 / AES-CBC-128; preferred, missing on older BMCs (and on ipmi_sim). */
export const cipherSuite17: CipherSuite = {
  id: 17,
  authentication: AUTHENTICATION.hmacSha256,
  integrity: INTEGRITY.hmacSha256_128,
  confidentiality: CONFIDENTIALITY.aesCbc128,
};
