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

  it('wraps past the first rows and the limit, keeping readings as the BMC gave them', () => {
    const store = new SensorHistoryStore(40);
    for (let at = 1; at <= 100; at++) store.record('s1', at, [reading('Volt', at + 0.34)]);
    const { at, series } = store.history('s1');
    expect(at).toEqual(Array.from({ length: 40 }, (_, index) => 61 + index));
    expect(series[0]).toEqual(Array.from({ length: 40 }, (_, index) => 61 + index + 0.34));
  });

  it('lets a background sample in only while there is room, and never evicts for one', () => {
    const store = new SensorHistoryStore(10, 2);
    expect(store.sample('a', 1, [reading('CPU', 1)])).toBe(true);
    expect(store.sample('b', 1, [reading('CPU', 2)])).toBe(true);
    expect(store.canKeep('c')).toBe(false);
    expect(store.sample('c', 2, [reading('CPU', 3)])).toBe(false);
    expect(store.sample('a', 2, [reading('CPU', 4)])).toBe(true);
    expect(store.history('c').at).toEqual([]);
    expect(store.history('a').at).toEqual([1, 2]);
    expect(store.lastAt('a')).toBe(2);
    expect(store.lastAt('c')).toBeUndefined();
  });

  it('evicts for a user read the server used longest ago; reading a chart counts as use', () => {
    const store = new SensorHistoryStore(10, 2);
    store.sample('a', 1, [reading('CPU', 1)]);
    store.sample('b', 1, [reading('CPU', 2)]);
    store.history('a');
    store.record('c', 2, [reading('CPU', 3)]);
    expect(store.history('b').at).toEqual([]);
    expect(store.history('a').at).toEqual([1]);
    expect(store.history('c').at).toEqual([2]);
  });

  it('holds 4 bytes per reading and 8 per timestamp once full', () => {
    const store = new SensorHistoryStore(720, 10);
    const sensors = Array.from({ length: 40 }, (_, index) => reading(`S${index}`, index));
    for (let at = 1; at <= 1000; at++) store.sample('s1', at, sensors);
    expect(store.bytes).toBe(720 * 8 + 40 * 720 * 4);
    expect(store.size).toBe(1);
  });
});
