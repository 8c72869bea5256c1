import { LightsoutError } from '@lightsout/shared';
import { decodeChannelAuthCapabilities, getChannelAuthCapabilitiesRequest, type ChannelAuthCapabilities } from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';
import type { HandshakeWaiter } from './handshake-wait.js';
import { preSessionRequest } from './pre-session.js';

/**
 * What the capabilities say about RMCP+: `offered` when byte 2 bit 7 ("IPMI v2.0+ extended capabilities
 * available") and byte 4 bit 1 ("channel supports IPMI v2.0 connections") agree that it is there,
 * `absent` when they agree that it is not (no extended data, or byte 4 naming v1.5 connections only),
 * `unclear` when they disagree: bit 7 with a byte 4 that names neither version, or byte 4 claiming v2.0
 * connections in an answer to the v2.0 request form without bit 7.
 */
export type RmcpPlusOffer = 'offered' | 'absent' | 'unclear';

export interface AuthCapabilities extends ChannelAuthCapabilities {
  rmcpPlus: RmcpPlusOffer;
}

/**
 * Get Channel Authentication Capabilities, outside any session (v1.5 framing,
 * auth type none, session 0, sequence 0), IPMI v2.0 §22.13. Asks for the
 * v2.0 extended data first; BMCs that refuse that are asked again without it.
 */
export async function getAuthCapabilities(transport: DatagramTransport, waiter: HandshakeWaiter, privilege: number, timeoutMs: number, sequence: number): Promise<AuthCapabilities> {
  for (const extended of [true, false]) {
    const request = getChannelAuthCapabilitiesRequest(privilege, extended);
    const { completionCode, data } = await preSessionRequest(transport, waiter, request, sequence, timeoutMs, 'Get Channel Auth Capabilities');
    if (completionCode === 0) return { ...decodeChannelAuthCapabilities(data), rmcpPlus: rmcpPlusOffer(data, extended) };
    if (!extended) throw new LightsoutError('BMC_PROTOCOL_ERROR', `Get Channel Auth Capabilities failed with 0x${completionCode.toString(16)}`);
  }
  throw new LightsoutError('INTERNAL', 'unreachable');
}

/**
 * FreeIPMI wants both bits before RMCP+; ipmitool's lanplus looks at bit 7 alone and then simply tries.
 * Where they disagree, only Open Session can tell, so it is tried (`unclear`). Byte 4 is reserved
 * without bit 7 (§22.13), so it counts only in an answer to the request that asked for extended data:
 * a BMC that refused that form is a v1.5 BMC.
 */
export function rmcpPlusOffer(data: Uint8Array, askedExtended: boolean): RmcpPlusOffer {
  const extendedData = (data[1]! & 0x80) !== 0;
  const connections = data[3]! & 0x03;
  if (extendedData) {
    if (connections & 0x02) return 'offered';
    return connections === 0x01 ? 'absent' : 'unclear';
  }
  return askedExtended && connections & 0x02 ? 'unclear' : 'absent';
}
