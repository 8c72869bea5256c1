import { describe, expect, it } from 'vitest';
import { generateEd25519Key } from './ed25519-key.js';
import { type HostKey, keptOnceLoaded } from './host-key.js';

describe('keptOnceLoaded', () => {
  it('keeps a loaded key, and tries again after a failed load instead of keeping the failure', async () => {
    const key = { privateKey: generateEd25519Key().private } as HostKey;
    let calls = 0;
    const load = keptOnceLoaded(async () => {
      calls += 1;
      if (calls === 1) throw new Error('store unreachable');
      return key;
    });
    await expect(load()).rejects.toThrow('store unreachable');
    expect(await load()).toBe(key);
    expect(await load()).toBe(key);
    expect(calls).toBe(2);
  });
});
