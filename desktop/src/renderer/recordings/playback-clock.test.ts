import { describe, expect, it } from 'vitest';
import { PlaybackClock } from './playback-clock.js';

describe('PlaybackClock', () => {
  it('plays, pauses, changes speed and seeks from a monotonic clock', () => {
    let now = 1000;
    const clock = new PlaybackClock(10, () => now);
    expect(clock.position()).toBe(0);
    clock.play();
    now += 2000;
    expect(clock.position()).toBe(2);
    clock.pause();
    now += 5000;
    expect(clock.position()).toBe(2);
    clock.setSpeed(4);
    clock.play();
    now += 500;
    expect(clock.position()).toBe(4);
    clock.seek(1);
    expect(clock.position()).toBe(1);
    now += 250;
    expect(clock.position()).toBe(2);
    now += 100_000;
    expect(clock.position()).toBe(10);
    expect(clock.ended).toBe(true);
    clock.pause();
    clock.play();
    expect(clock.position()).toBe(0);
  });
});
