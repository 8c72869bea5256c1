import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { reserveDisplay } from './vnc-display.js';

describe('reserveDisplay', () => {
  it('gives 20 parallel callers 20 different numbers, each holding the standard X lock', async () => {
    const reservations = await Promise.all(Array.from({ length: 20 }, () => reserveDisplay()));
    try {
      const displays = reservations.map((reservation) => reservation.display);
      expect(new Set(displays).size).toBe(20);
      for (const display of displays) {
        expect(existsSync(`/tmp/.X11-unix/X${display}`)).toBe(false);
        // X's own format: pid right-aligned in 10 characters and a newline.
        expect(readFileSync(`/tmp/.X${display}-lock`, 'utf8')).toBe(`${String(process.pid).padStart(10)}\n`);
      }
    } finally {
      await Promise.all(reservations.map((reservation) => reservation.release()));
    }
    for (const reservation of reservations) expect(existsSync(`/tmp/.X${reservation.display}-lock`)).toBe(false);
  });

  it('adopt() hands the lock to the X server pid; release() removes only a lock that is still ours', async () => {
    const reservation = await reserveDisplay();
    await reservation.adopt(process.ppid);
    expect(readFileSync(`/tmp/.X${reservation.display}-lock`, 'utf8').trim()).toBe(String(process.ppid));
    await reservation.release();
    expect(existsSync(`/tmp/.X${reservation.display}-lock`)).toBe(false);
    await reservation.release(); // idempotent
  });
});
