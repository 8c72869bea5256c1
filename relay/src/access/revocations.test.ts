import { describe, expect, it } from 'vitest';
import { MAX_WEB_SESSION_SECONDS } from '../config/schema.js';
import { REMEMBER_MS, Revocations } from './revocations.js';

/** A clock the test moves by hand. */
function clock(start: number): { now: () => number; advance: (ms: number) => void } {
  let at = start;
  return { now: () => at, advance: (ms) => (at += ms) };
}

describe('revocation notices are remembered while a credential granted before them can still be shown', () => {
  const granted = Date.UTC(2026, 11, 7, 9, 0, 0);

  it('refuses a web session granted before the revocation for as long as its cookie can live, not just a quarter of an hour', async () => {
    const time = clock(granted + 60_000);
    const revocations = new Revocations(time.now);
    await revocations.revoke('user-leaver', 'disabled');
    time.advance(16 * 60_000);
    expect(revocations.revokedSince('user-leaver', granted)).toBe(true);
    // The longest web session granted a moment before the revocation ends here: its cookie is refused to the last second.
    time.advance(MAX_WEB_SESSION_SECONDS * 1000 - 16 * 60_000 - 1000);
    expect(revocations.revokedSince('user-leaver', granted)).toBe(true);
    expect(REMEMBER_MS).toBeGreaterThan(MAX_WEB_SESSION_SECONDS * 1000);
  });

  it('lets in what was granted after the revocation, and forgets a notice once nothing granted before it can be alive', async () => {
    const time = clock(granted);
    const revocations = new Revocations(time.now);
    await revocations.revoke('user-returning', 'password changed');
    expect(revocations.revokedSince('user-returning', granted + 1000)).toBe(false);
    expect(revocations.revokedSince('user-returning', granted)).toBe(true);
    time.advance(REMEMBER_MS);
    expect(revocations.revokedSince('user-returning', granted)).toBe(false);
  });

  it('keeps every subject revoked in a busy day: thousands of notices for others do not push one out', async () => {
    const time = clock(granted);
    const revocations = new Revocations(time.now);
    await revocations.revoke('user-first', 'disabled');
    for (let index = 0; index < 20_000; index += 1) await revocations.revoke(`svc:${index}`, 'revoked');
    expect(revocations.revokedSince('user-first', granted)).toBe(true);
  });
});
