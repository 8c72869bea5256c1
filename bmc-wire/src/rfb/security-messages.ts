import { decoded, type Decoded, decodeLengthPrefixedText, MAX_REASON_LENGTH, needMore, protocolError, readU32, u32 } from './wire.js';
import { type RfbVersion } from './version.js';

/** What the server offered: a list of types, or a refusal with its reason. */
export type SecurityOffer = { kind: 'types'; types: number[] } | { kind: 'failure'; reason: string };

// RFC 6143 §7.1.2 Security Handshake (3.7 and 3.8), server → client:
// | number-of-security-types (u8) | security-types (u8 × number) |
// number = 0 means the server refuses the connection:
// | 0 (u8) | reason-length (u32) | reason-string (reason-length) |
export function decodeSecurityTypes(bytes: Uint8Array): Decoded<SecurityOffer> {
  if (bytes.length < 1) return needMore(1);
  const count = bytes[0]!;
  if (count === 0) {
    const reason = decodeLengthPrefixedText(bytes, 1, MAX_REASON_LENGTH, 'security failure reason');
    return reason.kind === 'value' ? decoded({ kind: 'failure', reason: reason.value }, reason.length) : reason;
  }
  if (bytes.length < 1 + count) return needMore(1 + count);
  const types = Array.from(bytes.subarray(1, 1 + count));
  // Type 0 is "Invalid" (§7.1.2); a list containing it is not a valid offer.
  if (types.includes(0)) throw protocolError('security type list contains type 0 (Invalid)', { types });
  return decoded({ kind: 'types', types }, 1 + count);
}

export function encodeSecurityTypes(types: readonly number[]): Uint8Array {
  if (types.length === 0 || types.length > 255) throw new RangeError('1..255 security types');
  return Uint8Array.from([types.length, ...types]);
}

export function encodeSecurityRefusal(reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason);
  return Uint8Array.from([0, ...u32(text.length), ...text]);
}

// RFC 6143 Appendix A.1 (version 3.3), server → client, the server decides:
// | security-type (u32) |          0 = Invalid, then:
// | reason-length (u32) | reason-string |
export function decodeSecurityType33(bytes: Uint8Array): Decoded<SecurityOffer> {
  if (bytes.length < 4) return needMore(4);
  const type = readU32(bytes, 0);
  if (type === 0) {
    const reason = decodeLengthPrefixedText(bytes, 4, MAX_REASON_LENGTH, 'security failure reason');
    return reason.kind === 'value' ? decoded({ kind: 'failure', reason: reason.value }, reason.length) : reason;
  }
  // 3.3 allows only None (1) and VNC Authentication (2).
  if (type > 255) throw protocolError(`version 3.3 security type ${type} is out of range`, { type });
  return decoded({ kind: 'types', types: [type] }, 4);
}

export function encodeSecurityType33(type: number): Uint8Array {
  return u32(type);
}

/** The outcome of authentication as the server reported it. */
export type SecurityResult = { kind: 'ok' } | { kind: 'failed'; status: number; reason: string | undefined };

// RFC 6143 §7.1.3 SecurityResult, server → client:
// | status (u32) |                 0 = OK, 1 = failed (2 = too many attempts, pre-3.8 servers)
// version 3.8 and status ≠ 0:
// | status (u32) | reason-length (u32) | reason-string |
export function decodeSecurityResult(bytes: Uint8Array, version: RfbVersion): Decoded<SecurityResult> {
  if (bytes.length < 4) return needMore(4);
  const status = readU32(bytes, 0);
  if (status === 0) return decoded({ kind: 'ok' }, 4);
  if (status > 2) throw protocolError(`unknown SecurityResult status ${status}`, { status });
  if (version !== '3.8') return decoded({ kind: 'failed', status, reason: undefined }, 4);
  const reason = decodeLengthPrefixedText(bytes, 4, MAX_REASON_LENGTH, 'SecurityResult reason');
  return reason.kind === 'value' ? decoded({ kind: 'failed', status, reason: reason.value }, reason.length) : reason;
}

export function encodeSecurityResult(result: SecurityResult, version: RfbVersion): Uint8Array {
  if (result.kind === 'ok') return u32(0);
  if (version !== '3.8') return u32(result.status);
  const text = new TextEncoder().encode(result.reason ?? 'authentication failed');
  return Uint8Array.from([...u32(result.status), ...u32(text.length), ...text]);
}

// RFC 6143 §7.1.2, client → server (3.7 and 3.8): | security-type (u8) |
export function decodeSecurityChoice(bytes: Uint8Array): Decoded<number> {
  if (bytes.length < 1) return needMore(1);
  return decoded(bytes[0]!, 1);
}
