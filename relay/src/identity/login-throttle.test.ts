import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { LoginThrottle } from './login-throttle.js';

describe('LoginThrottle', () => {
  const clock = { now: 1_000_000 };
  const throttle = () => new LoginThrottle({ now: () => clock.now, allowance: { pair: 3, user: 5, address: 8 }, firstLockMs: 30_000, maxLockMs: 120_000, forgetMs: 600_000, maxKeys: 1000 });

  it('locks one client guessing one account after its allowance, longer for each further failure, at most maxLockMs', () => {
    const gate = throttle();
    for (let index = 0; index < 3; index += 1) {
      expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: true });
      gate.failed('alice', '10.0.0.1');
    }
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: true });
    gate.failed('alice', '10.0.0.1'); // the 4th: locked 30 s
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(gate.check('ALICE', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    // Another address may still try alice; the locked client may still try another account.
    expect(gate.check('alice', '10.0.0.2')).toEqual({ allowed: true });
    expect(gate.check('bob', '10.0.0.1')).toEqual({ allowed: true });
    clock.now += 30_000;
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: true });
    gate.failed('alice', '10.0.0.1'); // 5th: 60 s
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    clock.now += 60_000;
    gate.failed('alice', '10.0.0.1'); // 6th: the user key is past its 5 too; 120 s (capped)
    expect(gate.check('alice', '10.0.0.9')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 120 });
    clock.now += 120_000;
    gate.failed('alice', '10.0.0.1');
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 120 });
  });

  it('locks an address spraying many accounts, and a success does not reset that', () => {
    const gate = throttle();
    for (let index = 0; index < 8; index += 1) gate.failed(`user-${index}`, '10.0.0.3');
    gate.succeeded('carol', '10.0.0.3');
    expect(gate.check('carol', '10.0.0.3')).toEqual({ allowed: true });
    gate.failed('user-8', '10.0.0.3');
    expect(gate.check('carol', '10.0.0.3')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(gate.check('carol', '10.0.0.4')).toEqual({ allowed: true });
  });

  it("a success clears the account's failures; old failures are forgotten", () => {
    const gate = throttle();
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.succeeded('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    expect(gate.check('dave', '10.0.0.5')).toEqual({ allowed: true });
    clock.now += 600_001;
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    expect(gate.check('dave', '10.0.0.5')).toEqual({ allowed: true });
  });

  it('stays bounded under a flood of made-up names', () => {
    const gate = throttle();
    for (let index = 0; index < 5000; index += 1) gate.failed(`nobody-${index}`, `10.1.${index >> 8}.${index & 255}`);
    expect(gate.size).toBeLessThanOrEqual(1000);
  });
});

describe('the sign-in form under password guessing', () => {
  let relay: RunningRelay;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(async () => {
    await relay.close();
  });

  it('past five wrong passwords refuses even the right one (429, Retry-After) without checking it, and audits it', async () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await expect(loginWithPassword(relay.url, 'operator', `guess-${attempt}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    await expect(loginWithPassword(relay.url, 'operator', 'guess-5')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 30 } });
    // Another account from the same address is not held back by operator's lock.
    expect((await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken).toBeTypeOf('string');
    const denied = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'login').where('outcome', '=', 'denied').execute();
    expect(denied.map((row) => [row.target, JSON.parse(row.details ?? '{}').reason])).toEqual([['user:operator', 'throttled']]);
  });
});
