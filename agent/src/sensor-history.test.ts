import type { Sensor } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { SensorHistoryStore } from './sensor-history.js';

const reading = (name: string, value: number | null): Sensor => ({ name, type: 'temperature', value, unit: 'Cel', status: 'ok' });

describe('SensorHistoryStore', () => {
  it('keeps readings column by column, oldest first', () => {
    const store = new SensorHistoryStore();
    store.record('s1', 1000, [reading('CPU', 40), reading('Inlet', 21)]);
    store.record('s1', 2000, [reading('CPU', 42), reading('Inlet', null)]);
    expect(store.history('s1')).toEqual({
      sensors: [{ name: 'CPU', type: 'temperature', unit: 'Cel' }, { name: 'Inlet', type: 'temperature', unit: 'Cel' }],
      at: [1000, 2000],
      series: [[40, 42], [21, null]],
      intervalSeconds: 0,
    });
  });

  it('pads a sensor that appears or disappears with nulls', () => {
    const store = new SensorHistoryStore();
    store.record('s1', 1, [reading('CPU', 40)]);
    store.record('s1', 2, [reading('CPU', 41), reading('Fan', 9000)]);
    store.record('s1', 3, [reading('Fan', 9100)]);
    expect(store.history('s1').series).toEqual([[40, 41, null], [null, 9000, 9100]]);
  });

  it('drops the oldest samples past the limit', () => {
    const store = new SensorHistoryStore(3);
    for (let at = 1; at <= 5; at++) store.record('s1', at, [reading('CPU', at * 10)]);
    expect(store.history('s1')).toMatchObject({ at: [3, 4, 5], series: [[30, 40, 50]] });
  });

  it('forgets the server read longest ago past the server limit', () => {
    const store = new SensorHistoryStore(10, 2);
    store.record('a', 1, [reading('CPU', 1)]);
    store.record('b', 2, [reading('CPU', 2)]);
    store.record('a', 3, [reading('CPU', 3)]);
    store.record('c', 4, [reading('CPU', 4)]);
    expect(store.history('b').at).toEqual([]);
    expect(store.history('a').at).toEqual([1, 3]);
    expect(store.history('c').at).toEqual([4]);
  });

  it('starts over when the clock steps back, and answers an empty history for an unknown server', () => {
    const store = new SensorHistoryStore();
    store.record('s1', 5000, [reading('CPU', 1)]);
    store.record('s1', 4000, [reading('CPU', 2)]);
    expect(store.history('s1')).toMatchObject({ at: [4000], series: [[2]] });
    expect(store.history('nobody')).toEqual({ sensors: [], at: [], series: [], intervalSeconds: 0 });
  });

  it('hands out copies: the caller cannot change what is kept', () => {
    const store = new SensorHistoryStore();
    store.record('s1', 1, [reading('CPU', 1)]);
    store.history('s1').series[0]![0] = 99;
    expect(store.history('s1').series[0]).toEqual([1]);
  });
});
