import { describe, expect, it } from 'vitest';
import { tickBatcher } from './write-batch.js';

describe('tickBatcher', () => {
  it('corks once per tick and uncorks when the deferred callback runs', () => {
    const calls: string[] = [];
    const deferred: (() => void)[] = [];
    const batch = tickBatcher({ cork: () => calls.push('cork'), uncork: () => calls.push('uncork') }, (callback) => deferred.push(callback));
    batch();
    batch();
    batch();
    expect(calls).toEqual(['cork']);
    expect(deferred).toHaveLength(1);
    deferred.shift()!();
    expect(calls).toEqual(['cork', 'uncork']);
    batch();
    expect(calls).toEqual(['cork', 'uncork', 'cork']);
    expect(deferred).toHaveLength(1);
  });

  it('does nothing without a socket to cork', () => {
    const deferred: (() => void)[] = [];
    tickBatcher(undefined, (callback) => deferred.push(callback))();
    expect(deferred).toHaveLength(0);
  });
});
