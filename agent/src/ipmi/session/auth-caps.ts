import { LightsoutError } from '@lightsout/shared';
import {
  classifyDatagram, decodeChannelAuthCapabilities, decodeIpmiMessage, decodeV15, encodeIpmiMessage, encodeV15, getChannelAuthCapabilitiesRequest,
  requestMessage, completionCodeOf, type ChannelAuthCapabilities,
} from '../wire/index.js';
import type { DatagramTransport } from '../transport.js';
import type { HandshakeWaiter } from './handshake-wait.js';

/**
 * Get Channel Authentication Capabilities, outside any session (v1.5 framing,
 * auth type none, session 0, sequence 0), IPMI v2.0 §22.13. Asks for the
 * v2.0 extended data first; BMCs that refuse that are asked again without it.
 */
export async function getAuthCapabilities(transport: DatagramTransport, waiter: HandshakeWaiter, privilege: number, timeoutMs: number, sequence: number): Promise<ChannelAuthCapabilities> {
  for (const extended of [true, false]) {
    const request = getChannelAuthCapabilitiesRequest(privilege, extended);
    const message = requestMessage(request.netFn, request.command, sequence, request.data);
    const reply = waiter.wait((datagram) => {
      if (classifyDatagram(datagram) !== 'ipmi-v1.5') return undefined;
      const response = decodeIpmiMessage(decodeV15(datagram).message);
      if (response.command !== request.command || response.sequence !== sequence) return undefined;
      return { completionCode: completionCodeOf(response), data: response.data.subarray(1) };
    }, timeoutMs, 'Get Channel Auth Capabilities');
    transport.send(encodeV15({ authType: 0, sequence: 0, sessionId: 0, authCode: undefined, message: encodeIpmiMessage(message) }));
    const { completionCode, data } = await reply;
    if (completionCode === 0) return decodeChannelAuthCapabilities(data);
    if (!extended) throw new LightsoutError('BMC_PROTOCOL_ERROR', `Get Channel Auth Capabilities failed with 0x${completionCode.toString(16)}`);
  }
  throw new LightsoutError('INTERNAL', 'unreachable');
}
