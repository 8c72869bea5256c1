import { describe, expect, it } from 'vitest';
import { describeBmcLink } from './servers.js';

describe('describeBmcLink', () => {
  it('says what the agent negotiated, or that the BMC rejected the credentials and when the agent tries again', () => {
    expect(describeBmcLink({ protocol: 'ipmi-v2.0', cipherSuite: 3 })).toBe('ipmi-v2.0, cipher suite 3');
    expect(describeBmcLink({ credentials: 'rejected', retryAt: '2026-12-05T02:00:00.000Z', error: { code: 'BMC_AUTH_FAILED', message: 'rejected' } })).toBe(
      'credentials rejected, next login 2026-12-05T02:00:00.000Z (lightsout servers retry-credentials)',
    );
    expect(describeBmcLink({ protocol: 'ipmi-v1.5', error: { code: 'BMC_TIMEOUT', message: 'BMC stopped answering' } })).toBe('ipmi-v1.5; last error BMC_TIMEOUT: BMC stopped answering');
    expect(describeBmcLink(null)).toBe('no report yet');
  });
});
