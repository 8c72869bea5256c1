import { describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { CREDENTIAL_BACKOFF, CredentialGate } from './credential-gate.js';

const rejected = () => Promise.reject(new LightsoutError('BMC_AUTH_FAILED', 'RAKP 2 HMAC mismatch'));

describe('CredentialGate', () => {
  it('holds off logins after a rejection, doubling up to at least 15 minutes, without calling the BMC meanwhile', async () => {
    let now = 0;
    let attempts = 0;
    const gate = new CredentialGate(() => now);
    const attempt = () => {
      attempts++;
      return rejected();
    };
    const delays: number[] = [];
    for (let round = 0; round < 7; round++) {
      await expect(gate.login(attempt)).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
      const retryAt = gate.rejection!.retryAt;
      delays.push(retryAt - now);
      // Until retryAt, every login fails at once and the BMC sees nothing.
      now = retryAt - 1;
      const held = await gate.login(attempt).catch((error: unknown) => error);
      expect(held).toBeInstanceOf(LightsoutError);
      expect((held as LightsoutError).details).toMatchObject({ credentialsRejected: true });
      expect(attempts).toBe(round + 1);
      now = retryAt;
    }
    expect(delays).toEqual([1, 2, 4, 8, 16, 16, 16].map((minutes) => minutes * 60_000));
    expect(CREDENTIAL_BACKOFF.capMs).toBeGreaterThanOrEqual(15 * 60_000);
  });

  it('lets a retry through at once when asked, and a success clears the rejection', async () => {
    let now = 0;
    const gate = new CredentialGate(() => now);
    await expect(gate.login(rejected)).rejects.toThrow();
    now = 1000;
    gate.retryNow();
    expect(await gate.login(() => Promise.resolve('session'))).toBe('session');
    expect(gate.rejection).toBeUndefined();
  });

  it('does not count failures other than rejected credentials', async () => {
    const gate = new CredentialGate(() => 0);
    await expect(gate.login(() => Promise.reject(new LightsoutError('BMC_TIMEOUT', 'no answer')))).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
    expect(gate.rejection).toBeUndefined();
  });
});
