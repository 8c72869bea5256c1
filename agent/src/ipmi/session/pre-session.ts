import {
  classifyDatagram, completionCodeOf, decodeIpmiMessage, decodeV15, encodeIpmiMessage, encodeV15, requestMessage, type CommandRequest,
} from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';
import type { HandshakeWaiter } from './handshake-wait.js';

export interface PreSessionReply {
  completionCode: number;
  /** Response data after the completion code. */
  data: Uint8Array;
}

/** v1.5 framing with auth type none, session 0, sequence 0: what goes out before any session exists (IPMI v2.0 §22.12–§22.15). */
export function unauthenticatedV15(message: Uint8Array): Uint8Array {
  return encodeV15({ authType: 0, sequence: 0, sessionId: 0, authCode: undefined, message });
}

/**
 * One request/response outside an activated session: the reply is the first
 * v1.5 datagram answering `command` with request sequence `rqSeq`, awaited on
 * `waiter` (no retransmit: a timeout is the caller's to handle). `frame` wraps
 * the IPMI message for the wire (v1.5 challenge/activate sign it).
 */
export function preSessionRequest(
  transport: DatagramTransport,
  waiter: HandshakeWaiter,
  command: CommandRequest,
  rqSeq: number,
  timeoutMs: number,
  step: string,
  frame: (message: Uint8Array) => Uint8Array = unauthenticatedV15,
): Promise<PreSessionReply> {
  const message = encodeIpmiMessage(requestMessage(command.netFn, command.command, rqSeq, command.data));
  // Wait first, then send: a fast BMC's reply must find the waiter in place.
  const reply = waiter.wait<PreSessionReply>((datagram) => {
    if (classifyDatagram(datagram) !== 'ipmi-v1.5') return undefined;
    const response = decodeIpmiMessage(decodeV15(datagram).message);
    if (response.command !== command.command || response.sequence !== rqSeq) return undefined;
    return { completionCode: completionCodeOf(response), data: response.data.subarray(1) };
  }, timeoutMs, step);
  transport.send(frame(message));
  return reply;
}
