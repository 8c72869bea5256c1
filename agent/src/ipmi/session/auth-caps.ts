import { LightsoutError } from '@lightsout/shared';
import { decodeChannelAuthCapabilities, getChannelAuthCapabilitiesRequest, type ChannelAuthCapabilities } from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';
import type { HandshakeWaiter } from './handshake-wait.js';
import { preSessionRequest } from './pre-session.js';

/**
 * Get Channel Authentication Capabilities, outside any session (v1.5 framing,
 * auth type none, session 0, sequence 0), IPMI v2.0 §22.13. Asks for the
 * v2.0 extended data first; BMCs that refuse that are asked again without it.
 */
export async function getAuthCapabilities(transport: DatagramTransport, waiter: HandshakeWaiter, privilege: number, timeoutMs: number, sequence: number): Promise<ChannelAuthCapabilities> {
  for (const extended of [true, false]) {
    const request = getChannelAuthCapabilitiesRequest(privilege, extended);
    const { completionCode, data } = await preSessionRequest(transport, waiter, request, sequence, timeoutMs, 'Get Channel Auth Capabilities');
    if (completionCode === 0) return decodeChannelAuthCapabilities(data);
    if (!extended) throw new LightsoutError('BMC_PROTOCOL_ERROR', `Get Channel Auth Capabilities failed with 0x${completionCode.toString(16)}`);
  }
  throw new LightsoutError('INTERNAL', 'unreachable');
}
