import { MAX_DATAGRAM, requireLength, writeU32 } from './bytes.js';
import { wireError } from './errors.js';

// RMCP header, DMTF ASF 2.0 §3.2.2 / IPMI v2.0 §13.1.3:
// | version 0x06 (1) | reserved 0x00 (1) | sequence 0xFF = no RMCP ack (1) | class (1) |
// class 0x06 = ASF, 0x07 = IPMI (bit 7 would mean an RMCP ack, which IPMI never sends).
export const RMCP_HEADER_LENGTH = 4;
export const RMCP_CLASS_ASF = 0x06;
export const RMCP_CLASS_IPMI = 0x07;
export const ASF_IANA = 0x000011be;

export function rmcpHeader(messageClass: number): Uint8Array {
  return Uint8Array.of(0x06, 0x00, 0xff, messageClass);
}

export type DatagramKind = 'asf' | 'ipmi-v1.5' | 'rmcp+';

/** Which codec a received datagram belongs to (IPMI v2.0 §13.6: auth type 0x06 means RMCP+). */
export function classifyDatagram(datagram: Uint8Array): DatagramKind {
  if (datagram.length > MAX_DATAGRAM) throw wireError('TOO_LONG', `datagram of ${datagram.length} bytes`);
  requireLength(datagram, RMCP_HEADER_LENGTH + 1, 'RMCP datagram');
  if (datagram[0] !== 0x06 || datagram[1] !== 0x00) throw wireError('BAD_RMCP_HEADER', 'not RMCP version 1.0');
  const messageClass = datagram[3]! & 0x7f;
  if (messageClass === RMCP_CLASS_ASF) return 'asf';
  if (messageClass !== RMCP_CLASS_IPMI) throw wireError('BAD_RMCP_HEADER', `RMCP class 0x${messageClass.toString(16)}`);
  return (datagram[4]! & 0x3f) === 0x06 ? 'rmcp+' : 'ipmi-v1.5';
}

// ASF message after the RMCP header, ASF 2.0 §3.2.4:
// | IANA 0x000011BE (4, big endian) | message type (1) | tag (1) | reserved (1) | data length (1) | data |
// Presence Ping = type 0x80, no data. Presence Pong = type 0x40, 16 data bytes:
// | IANA (4 BE) | OEM (4) | supported entities (1, bit 7 = IPMI) | interactions (1) | reserved (6) |
export interface AsfMessage {
  kind: 'ping' | 'pong';
  tag: number;
  /** Pong only: bit 7 of "supported entities", set when the device speaks IPMI. */
  ipmiSupported?: boolean;
}

export function encodeAsf(message: AsfMessage): Uint8Array {
  const dataLength = message.kind === 'pong' ? 16 : 0;
  const out = new Uint8Array(RMCP_HEADER_LENGTH + 8 + dataLength);
  out.set(rmcpHeader(RMCP_CLASS_ASF), 0);
  writeBigEndian32(out, 4, ASF_IANA);
  out[8] = message.kind === 'ping' ? 0x80 : 0x40;
  out[9] = message.tag & 0xff;
  out[11] = dataLength;
  if (message.kind === 'pong') {
    writeBigEndian32(out, 12, ASF_IANA);
    out[20] = message.ipmiSupported === false ? 0x01 : 0x81;
  }
  return out;
}

export function decodeAsf(datagram: Uint8Array): AsfMessage {
  requireLength(datagram, RMCP_HEADER_LENGTH + 8, 'ASF message');
  const type = datagram[8]!;
  const dataLength = datagram[11]!;
  requireLength(datagram, RMCP_HEADER_LENGTH + 8 + dataLength, 'ASF data');
  if (type === 0x80) return { kind: 'ping', tag: datagram[9]! };
  if (type === 0x40) {
    if (dataLength < 16) throw wireError('BAD_LENGTH', 'ASF pong shorter than 16 data bytes');
    return { kind: 'pong', tag: datagram[9]!, ipmiSupported: (datagram[20]! & 0x80) !== 0 };
  }
  throw wireError('BAD_PAYLOAD_TYPE', `ASF message type 0x${type.toString(16)}`);
}

function writeBigEndian32(target: Uint8Array, offset: number, value: number): void {
  writeU32(target, offset, value);
  target.subarray(offset, offset + 4).reverse();
}

