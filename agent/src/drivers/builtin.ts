import { join } from 'node:path';
import type { Logger } from 'pino';
import { BMC_TRUST_DIRECTORY } from '../bmc-tls/index.js';
import { createIpmiDriver } from '../ipmi/index.js';
import { createRedfishDriver } from '../redfish/index.js';
import type { DriverFactories } from './registry.js';

/**
 * The drivers this build of the agent ships, keyed by protocol. Servers that
 * only have endpoints without a factory (vnc, serial) answer BMC_UNSUPPORTED
 * to BMC operations and are not polled.
 */
export function builtinDriverFactories(options: { stateDir: string; logger: Logger }): DriverFactories {
  return {
    // IPMI sessions across all BMCs share the driver's default bounded pool.
    ipmi: (endpoint, context) =>
      createIpmiDriver({
        host: endpoint.host,
        port: endpoint.port,
        credentials: endpoint.credentials,
        cipherSuite: endpoint.cipherSuite,
        privilege: endpoint.privilege,
        quirks: endpoint.quirks,
        logger: context.logger,
      }),
    redfish: (endpoint, context) =>
      createRedfishDriver({
        serverId: context.serverId,
        url: endpoint.url,
        credentials: endpoint.credentials,
        tls: endpoint.tls,
        trustDirectory: join(options.stateDir, BMC_TRUST_DIRECTORY),
        quirks: endpoint.quirks,
        ...(endpoint.systemId !== undefined ? { systemId: endpoint.systemId } : {}),
        onInsecure: (peer) => context.logger.warn({ peer }, 'TLS verification is off for this BMC (tls.insecure)'),
        onCertificateRecorded: (fingerprint) => context.logger.info({ fingerprint }, 'recorded the BMC certificate on first use'),
      }),
  };
}
