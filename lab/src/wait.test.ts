import { describe, expect, it } from 'vitest';
import { until, waitFor } from './wait.js';

describe('waitFor', () => {
  it('returns the first value that is neither undefined nor false, trying again after a throw', async () => {
    let calls = 0;
    const value = await waitFor('the third probe', () => {
      calls += 1;
      if (calls === 1) throw new Error('not up yet');
      return calls === 3 ? 'ready' : false;
    }, { intervalMs: 1 });
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('fails after the bound naming what it waited for, the state then, and the last error', async () => {
    let state = 'starting';
    const waiting = waitFor(() => `the peer (it is ${state})`, () => {
      state = 'stuck';
      throw new Error('ECONNREFUSED');
    }, { timeoutMs: 30, intervalMs: 5 });
    await expect(waiting).rejects.toThrow('timed out after 30 ms waiting for the peer (it is stuck): Error: ECONNREFUSED');
  });
});

describe('waitFor with wake (event-driven)', () => {
  it('probes again at each wake, not on a timer, and unsubscribes when done', async () => {
    const emitter = new EventTarget();
    let count = 0;
    let probes = 0;
    let subscribed = 0;
    const waiting = waitFor('three events', () => (probes++, count >= 3 ? count : false), {
      // An interval this long would fail the test's own timeout: only the wakes can end the wait.
      intervalMs: 60_000,
      wake: (wake) => {
        subscribed += 1;
        emitter.addEventListener('change', wake);
        return () => {
          subscribed -= 1;
          emitter.removeEventListener('change', wake);
        };
      },
    });
    for (let index = 0; index < 3; index += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      count += 1;
      emitter.dispatchEvent(new Event('change'));
    }
    expect(await waiting).toBe(3);
    expect(probes).toBe(4);
    expect(subscribed).toBe(0);
  });

  it('fails at the deadline when no wake makes the probe true, naming what it waited for', async () => {
    let subscribed = 0;
    const waiting = waitFor('a wake that never comes', () => false, {
      timeoutMs: 30,
      wake: () => {
        subscribed += 1;
        return () => (subscribed -= 1);
      },
    });
    await expect(waiting).rejects.toThrow('timed out after 30 ms waiting for a wake that never comes');
    expect(subscribed).toBe(0);
  });
});

describe('until (in-process state, polled)', () => {
  it('resolves once the check holds and fails after the bound naming what it waited for', async () => {
    let count = 0;
    await until(() => ++count >= 3, 1000, 'three looks');
    expect(count).toBe(3);
    await expect(until(() => false, 20, () => `count to pass ${count}`)).rejects.toThrow('timed out after 20 ms waiting for count to pass 3');
  });
});
