import { LightsoutError, type StreamKind } from '@lightsout/shared';
import type { ServerEntry } from '../../config/types.js';
import { openSerialWebSocketPort } from './serial-ws.js';
import { openTcpPort, tcpTargetOf } from './tcp.js';
import type { ConsolePort, ConsolePortEvents } from './types.js';

/** Pick the BMC-side transport from the kind and the endpoint's URL scheme. */
export async function defaultPortOpener(server: ServerEntry, kind: StreamKind, events: ConsolePortEvents): Promise<ConsolePort> {
  switch (kind) {
    case 'serial': {
      if (!server.serial) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no serial console endpoint`);
      const { url, credentials } = server.serial;
      if (/^wss?:\/\//i.test(url)) return openSerialWebSocketPort(url, credentials, events);
      if (/^tcp:\/\//i.test(url)) return openTcpPort(tcpTargetOf(url, 23), events);
      throw new LightsoutError('BMC_UNSUPPORTED', `serial console URL scheme not supported: ${url.split(':')[0]}`, { hint: 'use ws://, wss:// or tcp://' });
    }
    case 'sol':
      throw new LightsoutError('BMC_UNSUPPORTED', 'SOL streams need the IPMI SOL hub, which this agent build does not have yet');
    case 'vnc':
      throw new LightsoutError('BMC_UNSUPPORTED', 'VNC streams need the RFB proxy, which this agent build does not have yet');
  }
}
