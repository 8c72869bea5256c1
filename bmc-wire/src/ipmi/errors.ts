import { LightsoutError, type ErrorCode } from '@lightsout/shared';

/**
 * Why a datagram or field was refused. Stable strings: tests and logs key on
 * them, so add new ones, never rename. UDP datagrams arrive whole, so a short
 * datagram is TRUNCATED (malformed), never "need more bytes".
 */
export type IpmiWireReason =
  | 'TRUNCATED'
  | 'TOO_LONG'
  | 'BAD_LENGTH'
  | 'BAD_RMCP_HEADER'
  | 'BAD_AUTH_TYPE'
  | 'BAD_PAYLOAD_TYPE'
  | 'BAD_CHECKSUM'
  | 'BAD_INTEGRITY'
  | 'BAD_PADDING'
  | 'BAD_AUTH_CODE'
  | 'BAD_FIELD'
  | 'WRONG_SESSION'
  | 'REPLAYED_SEQUENCE'
  | 'UNSUPPORTED_ALGORITHM'
  | 'RAKP_STATUS'
  | 'RAKP_HMAC_MISMATCH'
  | 'BAD_OFFSET'
  | 'FRU_UNPROGRAMMED';

const codeOf: Record<IpmiWireReason, ErrorCode> = {
  TRUNCATED: 'MALFORMED_MESSAGE',
  TOO_LONG: 'MALFORMED_MESSAGE',
  BAD_LENGTH: 'MALFORMED_MESSAGE',
  BAD_RMCP_HEADER: 'MALFORMED_MESSAGE',
  BAD_AUTH_TYPE: 'MALFORMED_MESSAGE',
  BAD_PAYLOAD_TYPE: 'MALFORMED_MESSAGE',
  BAD_CHECKSUM: 'MALFORMED_MESSAGE',
  BAD_INTEGRITY: 'BMC_AUTH_FAILED',
  BAD_PADDING: 'MALFORMED_MESSAGE',
  BAD_AUTH_CODE: 'BMC_AUTH_FAILED',
  BAD_FIELD: 'MALFORMED_MESSAGE',
  WRONG_SESSION: 'BMC_PROTOCOL_ERROR',
  REPLAYED_SEQUENCE: 'BMC_PROTOCOL_ERROR',
  UNSUPPORTED_ALGORITHM: 'BMC_UNSUPPORTED',
  RAKP_STATUS: 'BMC_AUTH_FAILED',
  RAKP_HMAC_MISMATCH: 'BMC_AUTH_FAILED',
  BAD_OFFSET: 'MALFORMED_MESSAGE',
  // A blank FRU EEPROM: the BMC has no inventory data to offer, nothing is malformed.
  FRU_UNPROGRAMMED: 'BMC_UNSUPPORTED',
};

export function wireError(reason: IpmiWireReason, message: string, details: Record<string, unknown> = {}): LightsoutError {
  return new LightsoutError(codeOf[reason], message, { details: { reason, ...details } });
}

/** The IpmiWireReason of an error thrown by this package, or undefined. */
export function wireReasonOf(error: unknown): IpmiWireReason | undefined {
  if (error instanceof LightsoutError && typeof error.details?.['reason'] === 'string') return error.details['reason'] as IpmiWireReason;
  return undefined;
}
