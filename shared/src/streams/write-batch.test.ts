import { describe, expect, it } from 'vitest';
import { tickBatcher, tickTally } from './write-batch.js';

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

describe('tickTally', () => {
  it('reports the bytes counted in one tick as one sum, after the tick', () => {
    const reported: number[] = [];
    const deferred: (() => void)[] = [];
    const count = tickTally((bytes) => reported.push(bytes), (callback) => deferred.push(callback));
    count(16_384);
    count(16_384);
    count(100);
    expect(reported).toEqual([]);
    expect(deferred).toHaveLength(1);
    deferred.shift()!();
    expect(reported).toEqual([32_868]);
    count(5);
    expect(deferred).toHaveLength(1);
    deferred.shift()!();
    expect(reported).toEqual([32_868, 5]);
  });

  it('defers nothing while nothing is counted', () => {
    const deferred: (() => void)[] = [];
    const count = tickTally(() => {}, (callback) => deferred.push(callback));
    count(0);
    expect(deferred).toHaveLength(0);
  });
});
