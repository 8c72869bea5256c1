import type { AuthenticationAlgorithm, ConfidentialityAlgorithm, IntegrityAlgorithm } from './algorithms.js';

export interface CipherSuite {
  id: number;
  authentication: AuthenticationAlgorithm;
  integrity: IntegrityAlgorithm;
  confidentiality: ConfidentialityAlgorithm;
}
