import { describe, expect, it } from 'vitest';
import { waitFor } from './wait.js';

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
