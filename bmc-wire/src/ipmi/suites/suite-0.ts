import { AUTHENTICATION, CONFIDENTIALITY, INTEGRITY } from './algorithms.js';
import type { CipherSuite } from './cipher-suite.js';

/** Cipher suite 0 (IPMI v2.0 §22.15.2 table 22-20): no authentication, integrity or confidentiality: any password works. Never chosen automatically. */
export const cipherSuite0: CipherSuite = {
  id: 0,
  authentication: AUTHENTICATION.none,
  integrity: INTEGRITY.none,
  confidentiality: CONFIDENTIALITY.none,
};
