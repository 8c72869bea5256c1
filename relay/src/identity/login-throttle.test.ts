import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { LoginThrottle } from './login-throttle.js';

describe('LoginThrottle', () => {
  const clock = { now: 1_000_000 };
  const throttle = () =>
    new LoginThrottle({ now: () => clock.now, allowance: { pair: 3, account: 5, address: 8 }, pairAllowanceUnderPressure: 1, pressureDelayMs: 1000, firstLockMs: 30_000, maxLockMs: 120_000, forgetMs: 600_000, maxKeys: 1000 });

  it('locks one client guessing one account after its allowance, longer for each further failure, at most maxLockMs', () => {
    const gate = throttle();
    for (let index = 0; index < 3; index += 1) {
      expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
      gate.failed('alice', '10.0.0.1');
    }
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
    gate.failed('alice', '10.0.0.1'); // the 4th: locked 30 s
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(gate.check('ALICE', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    // Another address may still try alice; the locked client may still try another account.
    expect(gate.check('alice', '10.0.0.2')).toEqual({ allowed: true, delayMs: 0 });
    expect(gate.check('bob', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
    clock.now += 30_000;
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
    gate.failed('alice', '10.0.0.1'); // 5th: 60 s
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    clock.now += 60_000;
    gate.failed('alice', '10.0.0.1'); // 6th: 120 s (capped); the account is now past its 5 and so under pressure
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 120 });
    clock.now += 120_000;
    gate.failed('alice', '10.0.0.1');
    expect(gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 120 });
  });

  // The old rule locked the account key itself past 30 failures from anywhere, which let
  // anyone lock anyone out: the account-wide count now only slows, it never refuses.
  it('never refuses an address that has not failed, however many other addresses guessed the account; it only slows it', () => {
    const gate = throttle();
    for (let address = 1; address <= 6; address += 1) {
      for (let attempt = 0; attempt < 5; attempt += 1) gate.failed('victim', `10.9.0.${address}`);
    }
    expect(gate.check('victim', '10.9.0.1')).toMatchObject({ allowed: false });
    expect(gate.check('victim', '10.20.0.1')).toEqual({ allowed: true, delayMs: 1000 });
    // Locks do not grow for the victim: hours later, after more guessing, a fresh address still gets in.
    for (let round = 0; round < 10; round += 1) {
      clock.now += 15 * 60_000;
      for (let address = 1; address <= 6; address += 1) gate.failed('victim', `10.9.0.${address}`);
      expect(gate.check('victim', `10.20.1.${round}`)).toEqual({ allowed: true, delayMs: 1000 });
    }
    // Once the guessing stops and is forgotten, not even the delay is left.
    clock.now += 600_001;
    expect(gate.check('victim', '10.20.0.1')).toEqual({ allowed: true, delayMs: 0 });
  });

  it('under pressure a guessing address gets fewer tries on that account: its second failure locks it', () => {
    const gate = throttle();
    for (let address = 1; address <= 5; address += 1) gate.failed('carol', `10.8.0.${address}`);
    expect(gate.check('carol', '10.8.0.9')).toEqual({ allowed: true, delayMs: 0 });
    gate.failed('carol', '10.8.0.9'); // the 6th failure overall: the account is under pressure
    expect(gate.check('carol', '10.8.0.9')).toEqual({ allowed: true, delayMs: 1000 });
    gate.failed('carol', '10.8.0.9');
    expect(gate.check('carol', '10.8.0.9')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(gate.check('carol', '10.8.0.10')).toEqual({ allowed: true, delayMs: 1000 });
  });

  it('locks an address spraying many accounts, and a success does not reset that', () => {
    const gate = throttle();
    for (let index = 0; index < 8; index += 1) gate.failed(`user-${index}`, '10.0.0.3');
    gate.succeeded('carol', '10.0.0.3');
    expect(gate.check('carol', '10.0.0.3')).toEqual({ allowed: true, delayMs: 0 });
    gate.failed('user-8', '10.0.0.3');
    expect(gate.check('carol', '10.0.0.3')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(gate.check('carol', '10.0.0.4')).toEqual({ allowed: true, delayMs: 0 });
  });

  it("a success clears that client's failures on the account; old failures are forgotten", () => {
    const gate = throttle();
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.succeeded('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    expect(gate.check('dave', '10.0.0.5')).toEqual({ allowed: true, delayMs: 0 });
    clock.now += 600_001;
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    gate.failed('dave', '10.0.0.5');
    expect(gate.check('dave', '10.0.0.5')).toEqual({ allowed: true, delayMs: 0 });
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

describe('the sign-in form when many addresses guess one account', () => {
  let relay: RunningRelay;
  beforeAll(async () => {
    // Behind a trusted proxy the client address is X-Forwarded-For: each "address" below is a different client.
    relay = await startRelay({ config: { trustProxy: true } });
  });
  afterAll(async () => {
    await relay.close();
  });

  it('locks each guessing address, but the right password from an address that has not failed still signs in', async () => {
    for (let address = 1; address <= 7; address += 1) {
      const answers: string[] = [];
      for (let attempt = 0; attempt < 7; attempt += 1) {
        answers.push(await loginWithPassword(relay.url, 'operator', `guess-${address}-${attempt}`, { forwardedFor: `198.51.100.${address}` }).then(() => 'signed in', (error: { code?: string }) => String(error.code)));
      }
      // Six tries each at first (the sixth failure locks); once the account is under pressure (past 30 failures), two.
      expect(answers).toEqual(address <= 5 ? [...Array(6).fill('UNAUTHENTICATED'), 'RATE_LIMITED'] : ['UNAUTHENTICATED', 'UNAUTHENTICATED', ...Array(5).fill('RATE_LIMITED')]);
    }
    // 30 failures from five addresses, then 4 more from two: each guessing address is locked, even with the right password …
    await expect(loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { forwardedFor: '198.51.100.1' })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // … and the owner, from an address that has not failed, signs in.
    expect((await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { forwardedFor: '203.0.113.7' })).accessToken).toBeTypeOf('string');
  }, 120_000); // 50 sign-ins through the real OP, each a scrypt hash: slow on two shared cores
});
