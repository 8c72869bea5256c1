import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import type { Store } from '../store/open.js';
import { storeDialects } from '../testing/dialects.js';
import { StoreFailureCounts } from './failure-counts.js';
import { LoginThrottle, MemoryFailureCounts } from './login-throttle.js';

describe('LoginThrottle', () => {
  const clock = { now: 1_000_000 };
  let counts = new MemoryFailureCounts(1000);
  const throttle = () => {
    counts = new MemoryFailureCounts(1000);
    return new LoginThrottle(counts, { now: () => clock.now, allowance: { pair: 3, account: 5, address: 8 }, pairAllowanceUnderPressure: 1, pressureDelayMs: 1000, firstLockMs: 30_000, maxLockMs: 120_000, forgetMs: 600_000 });
  };

  it('locks one client guessing one account after its allowance, longer for each further failure, at most maxLockMs', async () => {
    const gate = throttle();
    for (let index = 0; index < 3; index += 1) {
      expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
      await gate.failed('alice', '10.0.0.1');
    }
    expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
    await gate.failed('alice', '10.0.0.1'); // the 4th: locked 30 s
    expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(await gate.check('ALICE', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    // Another address may still try alice; the locked client may still try another account.
    expect(await gate.check('alice', '10.0.0.2')).toEqual({ allowed: true, delayMs: 0 });
    expect(await gate.check('bob', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
    clock.now += 30_000;
    expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0 });
    await gate.failed('alice', '10.0.0.1'); // 5th: 60 s
    expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    clock.now += 60_000;
    await gate.failed('alice', '10.0.0.1'); // 6th: 120 s (capped); the account is now past its 5 and so under pressure
    expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 120 });
    clock.now += 120_000;
    await gate.failed('alice', '10.0.0.1');
    expect(await gate.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 120 });
  });

  // The old rule locked the account key itself past 30 failures from anywhere, which let
  // anyone lock anyone out: the account-wide count now only slows, it never refuses.
  it('never refuses an address that has not failed, however many other addresses guessed the account; it only slows it', async () => {
    const gate = throttle();
    for (let address = 1; address <= 6; address += 1) {
      for (let attempt = 0; attempt < 5; attempt += 1) await gate.failed('victim', `10.9.0.${address}`);
    }
    expect(await gate.check('victim', '10.9.0.1')).toMatchObject({ allowed: false });
    expect(await gate.check('victim', '10.20.0.1')).toEqual({ allowed: true, delayMs: 1000 });
    // Locks do not grow for the victim: hours later, after more guessing, a fresh address still gets in.
    for (let round = 0; round < 10; round += 1) {
      clock.now += 15 * 60_000;
      for (let address = 1; address <= 6; address += 1) await gate.failed('victim', `10.9.0.${address}`);
      expect(await gate.check('victim', `10.20.1.${round}`)).toEqual({ allowed: true, delayMs: 1000 });
    }
    // Once the guessing stops and is forgotten, not even the delay is left.
    clock.now += 600_001;
    expect(await gate.check('victim', '10.20.0.1')).toEqual({ allowed: true, delayMs: 0 });
  });

  it('under pressure a guessing address gets fewer tries on that account: its second failure locks it', async () => {
    const gate = throttle();
    for (let address = 1; address <= 5; address += 1) await gate.failed('carol', `10.8.0.${address}`);
    expect(await gate.check('carol', '10.8.0.9')).toEqual({ allowed: true, delayMs: 0 });
    await gate.failed('carol', '10.8.0.9'); // the 6th failure overall: the account is under pressure
    expect(await gate.check('carol', '10.8.0.9')).toEqual({ allowed: true, delayMs: 1000 });
    await gate.failed('carol', '10.8.0.9');
    expect(await gate.check('carol', '10.8.0.9')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(await gate.check('carol', '10.8.0.10')).toEqual({ allowed: true, delayMs: 1000 });
  });

  it('locks an address spraying many accounts, and a success does not reset that', async () => {
    const gate = throttle();
    for (let index = 0; index < 8; index += 1) await gate.failed(`user-${index}`, '10.0.0.3');
    await gate.succeeded('carol', '10.0.0.3');
    expect(await gate.check('carol', '10.0.0.3')).toEqual({ allowed: true, delayMs: 0 });
    await gate.failed('user-8', '10.0.0.3');
    expect(await gate.check('carol', '10.0.0.3')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(await gate.check('carol', '10.0.0.4')).toEqual({ allowed: true, delayMs: 0 });
  });

  it("a success clears that client's failures on the account; old failures are forgotten", async () => {
    const gate = throttle();
    await gate.failed('dave', '10.0.0.5');
    await gate.failed('dave', '10.0.0.5');
    await gate.succeeded('dave', '10.0.0.5');
    await gate.failed('dave', '10.0.0.5');
    await gate.failed('dave', '10.0.0.5');
    await gate.failed('dave', '10.0.0.5');
    expect(await gate.check('dave', '10.0.0.5')).toEqual({ allowed: true, delayMs: 0 });
    clock.now += 600_001;
    await gate.failed('dave', '10.0.0.5');
    await gate.failed('dave', '10.0.0.5');
    await gate.failed('dave', '10.0.0.5');
    expect(await gate.check('dave', '10.0.0.5')).toEqual({ allowed: true, delayMs: 0 });
  });

  it('stays bounded under a flood of made-up names', async () => {
    const gate = throttle();
    for (let index = 0; index < 5000; index += 1) await gate.failed(`nobody-${index}`, `10.1.${index >> 8}.${index & 255}`);
    expect(counts.size).toBeLessThanOrEqual(1000);
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
  it('thirty wrong passwords sent at once get the six checks six sent one by one get; the rest are refused unchecked', async () => {
    const guesses = await Promise.allSettled(Array.from({ length: 30 }, (_, index) => loginWithPassword(relay.url, 'admin', `at-once-${index}`)));
    const codes = guesses.map((guess) => (guess.status === 'rejected' ? (guess.reason as { code?: string }).code : 'SIGNED_IN'));
    expect({ UNAUTHENTICATED: codes.filter((code) => code === 'UNAUTHENTICATED').length, RATE_LIMITED: codes.filter((code) => code === 'RATE_LIMITED').length }).toEqual({ UNAUTHENTICATED: 6, RATE_LIMITED: 24 });
    const failures = await relay.app.store.selectFrom('audit').select('target').where('action', '=', 'login').where('outcome', '=', 'failure').where('target', '=', 'user:admin').execute();
    expect(failures).toHaveLength(6);
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

describe.each(storeDialects('lightsout-throttle-'))('failure counts in the store (%s)', (_dialect, open) => {
  let left: Store;
  let right: Store;
  beforeAll(async () => {
    left = await open();
    right = await open();
  });
  afterAll(async () => {
    await left?.destroy();
    await right?.destroy();
  });

  it('two replicas counting one key at once lose no failure; a lock at one is seen at the other; old keys are pruned', async () => {
    const now = Date.now();
    const [a, b] = [new StoreFailureCounts(left), new StoreFailureCounts(right)];
    await Promise.all(Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? a : b).add('a:203.0.113.9', now, now - 60_000)));
    expect((await b.read(['a:203.0.113.9'])).get('a:203.0.113.9')).toEqual({ count: 20, lastAt: now, lockedUntil: 0 });
    const gateA = new LoginThrottle(a, { now: () => now });
    const gateB = new LoginThrottle(b, { now: () => now });
    for (let attempt = 0; attempt < 6; attempt += 1) await gateA.failed('erin', '203.0.113.10');
    expect(await gateB.check('erin', '203.0.113.10')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    // Forgotten: the next failure starts again at 1.
    const later = now + 16 * 60_000 + 30_000;
    expect(await b.add('a:203.0.113.9', later, later - 15 * 60_000)).toEqual({ count: 1, lastAt: later, lockedUntil: 0 });
    expect(await a.prune(later, 15 * 60_000)).toBeGreaterThanOrEqual(2);
    expect([...(await a.read(['p:erin\u0000203.0.113.10', 'a:203.0.113.9'])).keys()]).toEqual(['a:203.0.113.9']);
  });
});
