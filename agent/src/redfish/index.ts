import type { BmcCredentials } from '../drivers/types.js';
import { RedfishClient } from './client.js';
import { RedfishDriver } from './driver.js';
import { type VirtualMediaQuirkName, isQuirkName } from './quirks/index.js';
import { CertificateTrustStore, type TlsSettings, createBmcDispatcher, tlsPolicyOf } from '../bmc-tls/index.js';
import { LightsoutError } from '@lightsout/shared';

export { RedfishDriver } from './driver.js';
export { RedfishClient } from './client.js';
export { CertificateTrustStore } from '../bmc-tls/index.js';
export { VIRTUAL_MEDIA_QUIRKS, INSERT_LADDER } from './quirks/index.js';
export type { TlsSettings } from '../bmc-tls/index.js';

export interface RedfishDriverOptions {
  /** The server's id: names its trust-on-first-use record. */
  serverId: string;
  /** Scheme, host and port of the BMC, e.g. `https://10.0.0.5`; a path after it is ignored. */
  url: string;
  credentials: BmcCredentials;
  tls?: TlsSettings;
  /** Directory for trust-on-first-use records, normally `<stateDir>/redfish-trust`. */
  trustDirectory?: string;
  /** A specific system when the BMC manages several (its Id). */
  systemId?: string;
  /** VirtualMedia quirks known to be needed by this BMC (names from VIRTUAL_MEDIA_QUIRKS). */
  quirks?: string[];
  auth?: 'session' | 'basic';
  timeoutMs?: number;
  retries?: number;
  insertSettleMs?: number;
  /** Called when TLS verification is off for this BMC (config `tls.insecure`), so it is never silent. */
  onInsecure?: (peer: string) => void;
  onCertificateRecorded?: (fingerprint: string) => void;
}

export function createRedfishDriver(options: RedfishDriverOptions): RedfishDriver {
  const url = new URL(options.url);
  const quirks = (options.quirks ?? []).map((name) => {
    if (!isQuirkName(name)) throw new LightsoutError('CONFIG_INVALID', `server ${options.serverId}: unknown Redfish quirk "${name}"`);
    return name as VirtualMediaQuirkName;
  });
  const store = options.trustDirectory ? new CertificateTrustStore(options.trustDirectory) : undefined;
  const policy = url.protocol === 'https:' ? tlsPolicyOf(options.tls, store, options.serverId) : { kind: 'insecure' as const };
  const dispatcher = createBmcDispatcher({
    policy,
    connectTimeoutMs: Math.min(options.timeoutMs ?? 15_000, 10_000),
    ...(options.onInsecure ? { onInsecure: options.onInsecure } : {}),
    ...(options.onCertificateRecorded ? { onRecorded: options.onCertificateRecorded } : {}),
  });
  const client = new RedfishClient({
    baseUrl: url.origin,
    credentials: options.credentials,
    dispatcher,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  });
  return new RedfishDriver({
    client,
    dispatcher,
    bmcHost: url.hostname.replace(/^\[|\]$/g, ''),
    quirks,
    ...(options.systemId ? { systemId: options.systemId } : {}),
    ...(options.insertSettleMs !== undefined ? { insertSettleMs: options.insertSettleMs } : {}),
  });
}
