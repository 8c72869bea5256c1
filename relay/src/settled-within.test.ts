import { describe, expect, it } from 'vitest';
import { settledWithin } from './settled-within.js';

describe('settledWithin', () => {
  it('returns when the promise settles, kept or broken, well before the limit', async () => {
    await settledWithin(Promise.resolve('kept'), 60_000);
    await settledWithin(Promise.reject(new Error('broken')), 60_000);
  });

  it('returns after the limit when the promise never settles', async () => {
    let settled = false;
    await settledWithin(new Promise(() => undefined), 20).then(() => (settled = true));
    expect(settled).toBe(true);
  });
});
