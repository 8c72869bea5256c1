import { requireLength } from '../bytes.js';
import { wireError } from '../errors.js';

/** What a command codec produces: the message body without addressing or sequence. */
export interface CommandRequest {
  netFn: number;
  command: number;
  data: Uint8Array;
}

/** Response data after the completion code; throws TRUNCATED naming the command when short. */
export function responseData(data: Uint8Array, minimum: number, what: string): Uint8Array {
  requireLength(data, minimum, `${what} response`);
  return data;
}

/** Request data with at least `minimum` bytes, for the BMC role. */
export function requestData(data: Uint8Array, minimum: number, what: string): Uint8Array {
  requireLength(data, minimum, `${what} request`);
  if (data.length > 64) throw wireError('TOO_LONG', `${what} request of ${data.length} bytes`);
  return data;
}

/** Privilege levels, IPMI v2.0 §6.8 / §22.13. */
export const PRIVILEGE = { callback: 1, user: 2, operator: 3, administrator: 4, oem: 5 } as const;
export type PrivilegeName = keyof typeof PRIVILEGE;

export function privilegeNumber(name: PrivilegeName): number {
  return PRIVILEGE[name];
}
