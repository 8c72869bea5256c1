import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode, isBmcFailure } from './errors.js';

describe('isBmcFailure', () => {
  it('holds for every BMC_ code and nothing else, so a new BMC failure cannot be left out of the consoles\' close codes and SSH exit statuses', () => {
    const codes = Object.keys(ERROR_CODES) as ErrorCode[];
    expect(codes.filter(isBmcFailure)).toEqual(codes.filter((code) => code.startsWith('BMC_')));
    expect(isBmcFailure('BMC_CERT_MISMATCH')).toBe(true);
    expect(isBmcFailure('AGENT_OFFLINE')).toBe(false);
  });
});
