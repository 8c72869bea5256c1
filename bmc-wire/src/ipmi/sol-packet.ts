import { MAX_DATAGRAM, requireLength } from './bytes.js';
import { wireError } from './errors.js';

// SOL payload (payload type 1), IPMI v2.0 §15.9 table 15-2:
// | packet sequence (1: bits 3:0, 1..15, 0 = ack-only) | ack/nack sequence (1: 0 = none) |
// | accepted character count (1) | operation (console→BMC) or status (BMC→console) (1) | character data … |
export interface SolPacket {
  sequence: number;
  ackSequence: number;
  acceptedCount: number;
  /** Operation bits from the console, status bits from the BMC (see SOL_OPERATION / SOL_STATUS). */
  control: number;
  data: Uint8Array;
}

/** Console → BMC operation bits (§15.9). */
export const SOL_OPERATION = {
  nack: 0x40,
  ringIndicator: 0x20,
  generateBreak: 0x10,
  deassertCts: 0x08,
  deassertDcdDsr: 0x04,
  flushInbound: 0x02,
  flushOutbound: 0x01,
} as const;

/** BMC → console status bits (§15.9). */
export const SOL_STATUS = {
  nack: 0x40,
  transferUnavailable: 0x20,
  deactivating: 0x10,
  transmitOverrun: 0x08,
  breakDetected: 0x04,
} as const;

export const SOL_HEADER_LENGTH = 4;
/** Character data we accept per packet; BMCs announce ≤ 255 and the count field is one byte. */
export const MAX_SOL_DATA = 255;

export function encodeSolPacket(packet: SolPacket): Uint8Array {
  if (packet.data.length > MAX_SOL_DATA) throw wireError('TOO_LONG', `SOL data of ${packet.data.length} bytes`);
  if (packet.sequence > 15 || packet.ackSequence > 15) throw wireError('BAD_FIELD', 'SOL sequence numbers are 4 bits');
  const out = new Uint8Array(SOL_HEADER_LENGTH + packet.data.length);
  out[0] = packet.sequence;
  out[1] = packet.ackSequence;
  out[2] = packet.acceptedCount;
  out[3] = packet.control;
  out.set(packet.data, SOL_HEADER_LENGTH);
  return out;
}

export function decodeSolPacket(payload: Uint8Array): SolPacket {
  if (payload.length > MAX_DATAGRAM) throw wireError('TOO_LONG', `SOL payload of ${payload.length} bytes`);
  requireLength(payload, SOL_HEADER_LENGTH, 'SOL packet');
  if (payload.length - SOL_HEADER_LENGTH > MAX_SOL_DATA) throw wireError('TOO_LONG', `SOL data of ${payload.length - SOL_HEADER_LENGTH} bytes`);
  return {
    sequence: payload[0]! & 0x0f,
    ackSequence: payload[1]! & 0x0f,
    acceptedCount: payload[2]!,
    control: payload[3]!,
    data: payload.slice(SOL_HEADER_LENGTH),
  };
}

/** The SOL sequence after `sequence`: 1..15, wrapping past 0 (0 means "no data"). */
export function nextSolSequence(sequence: number): number {
  return (sequence % 15) + 1;
}
