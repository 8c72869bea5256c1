/**
 * Whether the agent trusts a BMC's TLS endpoint: a CA file, a pinned SHA-256,
 * or trust on first use recorded under the state directory. One policy and
 * one record per server, whichever connection asks: the Redfish client
 * (undici dispatcher) and the consoles over wss:// (serial, VNC) alike.
 */
export { CertificateTrustStore, type TrustVerdict, normalizeFingerprint } from './trust-store.js';
export { type DispatcherOptions, type TlsPolicy, type TlsSettings, connectBmcTls, createBmcDispatcher, createBmcHttpsAgent, tlsPolicyOf } from './connections.js';

/**
 * Trust-on-first-use records live here, under the agent's state dir. Named
 * after Redfish, the first protocol that used it; kept so existing records
 * stay valid.
 */
export const BMC_TRUST_DIRECTORY = 'redfish-trust';
