import type { CipherSuite } from './cipher-suite.js';
import { cipherSuite0 } from './suite-0.js';
import { cipherSuite1 } from './suite-1.js';
import { cipherSuite2 } from './suite-2.js';
import { cipherSuite3 } from './suite-3.js';
import { cipherSuite17 } from './suite-17.js';

/** Every cipher suite we implement, by its IPMI number. One file per suite. */
export const CIPHER_SUITES: ReadonlyMap<number, CipherSuite> = new Map(
  [cipherSuite0, cipherSuite1, cipherSuite2, cipherSuite3, cipherSuite17].map((suite) => [suite.id, suite]),
);

/** The order a client tries by default: strongest first, suite 3 as the universal fallback. */
export const DEFAULT_SUITE_PREFERENCE: readonly number[] = [17, 3];

export function cipherSuiteById(id: number): CipherSuite | undefined {
  return CIPHER_SUITES.get(id);
}

/** The suite whose three algorithms match, as an Open Session response names them. */
export function cipherSuiteByAlgorithms(authentication: number, integrity: number, confidentiality: number): CipherSuite | undefined {
  for (const suite of CIPHER_SUITES.values()) {
    if (suite.authentication.id === authentication && suite.integrity.id === integrity && suite.confidentiality.id === confidentiality) return suite;
  }
  return undefined;
}
