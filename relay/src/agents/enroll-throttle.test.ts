import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../testing/index.js';

/**
 * Unauthenticated POST /v1/agents/enroll with bogus join tokens: the guesser's
 * address is throttled after a burst of failures, and the audit table grows by
 * a bounded number of rows per window that still count every attempt.
 */
let relay: RunningRelay;
const WINDOW_SECONDS = 1;
const ATTEMPTS = 60;

beforeAll(async () => {
  relay = await startRelay({ config: { limits: { enrollment: { failuresPerAddress: { perSecond: 0.1, burst: 5 }, failureAuditWindowSeconds: WINDOW_SECONDS } } } });
});
afterAll(async () => {
  await relay.close();
});

async function bogusEnroll(index: number): Promise<{ status: number; code: string; retryAfter: string | null }> {
  const response = await fetch(`${relay.url}/v1/agents/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ joinToken: `bogus-${index}-${'x'.repeat(40)}`, name: 'intruder', publicKey: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' } }),
  });
  return { status: response.status, code: ((await response.json()) as { code: string }).code, retryAfter: response.headers.get('retry-after') };
}

async function enrollAuditRows() {
  return relay.app.store.selectFrom('audit').select(['outcome', 'details', 'source_ip']).where('action', '=', 'agent.enroll').execute();
}

describe('enrollment with bogus join tokens', () => {
  it('throttles the address after a burst of failures and keeps the audit bounded but complete', async () => {
    const started = performance.now();
    const answers = [];
    for (let index = 0; index < ATTEMPTS; index++) answers.push(await bogusEnroll(index));
    expect(answers.slice(0, 5).map((answer) => answer.code)).toEqual(Array(5).fill('JOIN_TOKEN_INVALID'));
    const throttled = answers.filter((answer) => answer.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(ATTEMPTS - 6);
    for (const answer of throttled) {
      expect(answer.code).toBe('RATE_LIMITED');
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // Per window and address: one row for its first failure, one summing the rest when the window closes.
    const counted = async () =>
      (await enrollAuditRows()).reduce((sum, row) => sum + ((JSON.parse(row.details ?? '{}') as { attempts?: number }).attempts ?? 1), 0);
    await expect.poll(counted, { timeout: 10_000 }).toBe(ATTEMPTS);
    const windows = Math.ceil((performance.now() - started) / (WINDOW_SECONDS * 1000));
    const rows = await enrollAuditRows();
    console.info(`enroll throttle: ${ATTEMPTS} bogus attempts, ${throttled.length} refused with 429, ${rows.length} audit rows over ${windows} windows`);
    expect(rows.length).toBeLessThanOrEqual(2 * windows);
    expect(rows.every((row) => row.outcome === 'failure' && row.source_ip !== null)).toBe(true);
  });
});
