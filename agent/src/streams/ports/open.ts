import { LightsoutError, type StreamKind } from '@lightsout/shared';
import type { ServerEntry } from '../../config/types.js';
import type { DriverRegistry } from '../../drivers/registry.js';
import { IpmiDriver } from '../../ipmi/index.js';
import { openRfbPort } from '../../rfb/console-port.js';
import { openSerialWebSocketPort } from './serial-ws.js';
import { openSolPort } from './sol.js';
import { openTcpPort, tcpTargetOf } from './tcp.js';
import type { ConsolePort, ConsolePortEvents, ConsolePortOpener } from './types.js';

/** Pick the BMC-side transport from the kind and the endpoint's URL scheme. */
export function createPortOpener(registry: DriverRegistry | undefined): ConsolePortOpener {
  return async (server: ServerEntry, kind: StreamKind, events: ConsolePortEvents): Promise<ConsolePort> => {
    switch (kind) {
      case 'serial': {
        if (!server.serial) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no serial console endpoint`);
        const { url, credentials } = server.serial;
        if (/^wss?:\/\//i.test(url)) return openSerialWebSocketPort(url, credentials, events);
        // Serial console servers (ser2net, terminal servers) speak raw TCP.
        if (/^tcp:\/\//i.test(url)) return openTcpPort(tcpTargetOf(url, 23), events);
        throw new LightsoutError('BMC_UNSUPPORTED', `serial console URL scheme not supported: ${url.split(':')[0]}`, { hint: 'use ws://, wss:// or tcp://' });
      }
      case 'sol': {
        const driver = server.ipmi ? registry?.driverFor(server.id) : undefined;
        if (!(driver instanceof IpmiDriver)) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no IPMI endpoint for SOL`);
        return openSolPort(driver.sol(), events);
      }
      case 'vnc': {
        if (!server.vnc) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no VNC endpoint`);
        // The agent terminates the BMC's RFB security; the client is offered None (agent/src/rfb/README.md).
        return openRfbPort({ url: server.vnc.url, ...(server.vnc.credentials ? { password: server.vnc.credentials.password } : {}) }, events);
      }
    }
  };
}
