import { join } from 'node:path';
import type { Logger } from 'pino';
import { BMC_TRUST_DIRECTORY } from '../bmc-tls/index.js';
import { createIpmiDriver } from '../ipmi/index.js';
import { createRedfishDriver } from '../redfish/index.js';
import { SCROLLBACK_DIRECTORY } from '../streams/scrollback-file.js';
import type { DriverFactories } from './registry.js';

/**
 * The drivers this build of the agent ships, keyed by protocol. Servers that
 * only have endpoints without a factory (vnc, serial) answer BMC_UNSUPPORTED
 * to BMC operations and are not polled.
 */
export function builtinDriverFactories(options: { stateDir: string; logger: Logger; pollIntervalMs?: number }): DriverFactories {
  const idleCloseMs = ipmiIdleCloseMs(options.pollIntervalMs);
  // Made (and emptied) at start by main: SOL output is kept on disk there, not in memory.
  const scrollbackDirectory = join(options.stateDir, SCROLLBACK_DIRECTORY);
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
        ...(endpoint.protocol !== undefined ? { protocol: endpoint.protocol } : {}),
        logger: context.logger,
        idleCloseMs,
        sol: { scrollbackDirectory },
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

/** BMCs end an idle session after about 60 s (IPMI v2.0 §6.12.15's default inactivity timeout); keep ours well inside it. */
const BMC_SESSION_TIMEOUT_MARGIN_MS = 50_000;
const DEFAULT_IDLE_CLOSE_MS = 20_000;

/**
 * How long an IPMI command session stays open unused. Past the poll interval
 * when that fits inside the BMC's own timeout: each poll then reuses the
 * session the last one left (one exchange) instead of a new RMCP+ login
 * (open session, RAKP 1–4: five exchanges and the key derivation) per BMC
 * per round, and an operation between polls finds it open too.
 */
export function ipmiIdleCloseMs(pollIntervalMs: number | undefined): number {
  if (pollIntervalMs === undefined) return DEFAULT_IDLE_CLOSE_MS;
  const across = pollIntervalMs + 5000;
  return across <= BMC_SESSION_TIMEOUT_MARGIN_MS ? Math.max(DEFAULT_IDLE_CLOSE_MS, across) : DEFAULT_IDLE_CLOSE_MS;
}
