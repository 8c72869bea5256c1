import { LightsoutError } from '@lightsout/shared';
import { wireReasonOf, type IpmiWireReason } from '../ipmi/errors.js';

/** The wire reason of what `action` throws; fails when it does not throw a LightsoutError. */
export function reasonOfThrow(action: () => unknown): IpmiWireReason | undefined {
  try {
    action();
  } catch (error) {
    if (!(error instanceof LightsoutError)) throw error;
    return wireReasonOf(error);
  }
  throw new Error('expected a LightsoutError, nothing was thrown');
}

/** Runs a decoder on hostile bytes: it may return or throw a LightsoutError, never anything else. */
export function decodesOrRefuses(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (error) {
    if (!(error instanceof LightsoutError)) throw error;
  }
}
