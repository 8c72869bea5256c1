import { LightsoutError, type StreamKind } from '@lightsout/shared';
import type { ServerEntry } from '../../config/types.js';
import type { Agent as HttpAgent } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { DriverRegistry } from '../../drivers/registry.js';
import { CertificateTrustStore, connectBmcTls, createBmcHttpsAgent, tlsPolicyOf } from '../../bmc-tls/index.js';
import { IpmiDriver } from '../../ipmi/index.js';
import { openRfbPort } from '../../rfb/console-port.js';
import { openSerialWebSocketPort } from './serial-ws.js';
import { openSolPort } from './sol.js';
import { openTcpPort, tcpTargetOf } from './tcp.js';
import { openWebPort } from './web.js';
import type { ConsolePort, ConsolePortEvents, ConsolePortOpenOptions, ConsolePortOpener } from './types.js';

/**
 * TLS toward a BMC's console WebSocket (`wss://`) follows the same trust as
 * its Redfish service: the server's `redfish.tls` settings (CA file, pinned
 * fingerprint, or explicitly insecure), else trust on first use recorded
 * under the agent's state directory for that server — the same record, as
 * bmcweb serves Redfish and `/console0` with one certificate.
 */
function bmcTlsAgentFor(server: ServerEntry, trustDirectory: string | undefined, url: string): HttpAgent | undefined {
  if (!/^wss:\/\//i.test(url)) return undefined;
  const tls = server.redfish?.tls;
  const settings = tls ? { insecure: tls.insecure, ...(tls.caFile ? { caFile: tls.caFile } : {}), ...(tls.fingerprint256 ? { fingerprint256: tls.fingerprint256 } : {}) } : undefined;
  const store = trustDirectory ? new CertificateTrustStore(trustDirectory) : undefined;
  return createBmcHttpsAgent({ policy: tlsPolicyOf(settings, store, server.id), connectTimeoutMs: 10_000 });
}

/** The web UI's TLS: its own `web.tls` settings, else the Redfish service's, else trust on first use (one record per server). */
function webTlsConnector(server: ServerEntry, trustDirectory: string | undefined): (target: { host: string; port: number }) => Promise<TLSSocket> {
  const tls = server.web?.tls ?? server.redfish?.tls;
  const settings = tls ? { insecure: tls.insecure, ...(tls.caFile ? { caFile: tls.caFile } : {}), ...(tls.fingerprint256 ? { fingerprint256: tls.fingerprint256 } : {}) } : undefined;
  const store = trustDirectory ? new CertificateTrustStore(trustDirectory) : undefined;
  const policy = tlsPolicyOf(settings, store, server.id);
  return (target) => connectBmcTls({ policy, connectTimeoutMs: 10_000 }, target);
}

/** Pick the BMC-side transport from the kind and the endpoint's URL scheme. */
export function createPortOpener(registry: DriverRegistry | undefined, trustDirectory?: string): ConsolePortOpener {
  return async (server: ServerEntry, kind: StreamKind, events: ConsolePortEvents, options: ConsolePortOpenOptions = {}): Promise<ConsolePort> => {
    switch (kind) {
      case 'serial': {
        if (!server.serial) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no serial console endpoint`);
        const { url, credentials } = server.serial;
        if (/^wss?:\/\//i.test(url)) {
          const agent = bmcTlsAgentFor(server, trustDirectory, url);
          return openSerialWebSocketPort(url, credentials, events, agent ? { agent } : {});
        }
        // Serial console servers (ser2net, terminal servers) speak raw TCP.
        if (/^tcp:\/\//i.test(url)) return openTcpPort(tcpTargetOf(url, 23), events);
        throw new LightsoutError('BMC_UNSUPPORTED', `serial console URL scheme not supported: ${url.split(':')[0]}`, { hint: 'use ws://, wss:// or tcp://' });
      }
      case 'sol': {
        const driver = server.ipmi ? registry?.driverFor(server.id) : undefined;
        if (!(driver instanceof IpmiDriver)) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no IPMI endpoint for SOL`);
        return openSolPort(driver.sol(), events, { takeover: options.takeover === true });
      }
      case 'vnc': {
        if (!server.vnc) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no VNC endpoint`);
        // The agent terminates the BMC's RFB security; the client is offered None (agent/src/rfb/README.md).
        const agent = bmcTlsAgentFor(server, trustDirectory, server.vnc.url);
        return openRfbPort(
          { url: server.vnc.url, ...(server.vnc.credentials ? { password: server.vnc.credentials.password } : {}), ...(agent ? { webSocket: { agent } } : {}) },
          events,
        );
      }
      case 'web': {
        if (!server.web) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no web UI endpoint`, { hint: 'add web: {url: https://…} to the server in the agent configuration' });
        return openWebPort(server.web.url, events, webTlsConnector(server, trustDirectory));
      }
    }
  };
}
