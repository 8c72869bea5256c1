import { describe, expect, it } from 'vitest';
import { addSample, describeTransfer, formatBytes, formatDuration, readTransfer, type TransferSample } from './transfer-meter.js';

function feed(points: [number, number][], windowMs?: number): TransferSample[] {
  return points.reduce<TransferSample[]>((samples, [at, bytes]) => addSample(samples, { at, bytes }, windowMs), []);
}

describe('transfer meter', () => {
  it('measures the rate over the window and the time left from it', () => {
    const samples = feed([[0, 0], [1000, 1_000_000], [2000, 2_000_000]]);
    expect(readTransfer(samples, 10_000_000)).toEqual({ percent: 20, bytesPerSecond: 1_000_000, secondsLeft: 8 });
  });

  it('forgets samples older than the window, so a slowdown shows at once', () => {
    // 10 MB/s for 10 s, then 1 MB/s for 5 s: the window (5 s) sees only the slow part.
    const samples = feed([...Array.from({ length: 11 }, (_, second): [number, number] => [second * 1000, second * 10_000_000]), [11_000, 101_000_000], [12_000, 102_000_000], [13_000, 103_000_000], [14_000, 104_000_000], [15_000, 105_000_000]], 5000);
    expect(samples[0]!.at).toBe(10_000);
    expect(readTransfer(samples, 200_000_000).bytesPerSecond).toBe(1_000_000);
  });

  it('knows no rate from one sample or a span under half a second', () => {
    expect(readTransfer(feed([[0, 500]]), 1000)).toEqual({ percent: 50, bytesPerSecond: null, secondsLeft: null });
    expect(readTransfer(feed([[0, 0], [100, 500]]), 1000).bytesPerSecond).toBeNull();
  });

  it('starts over when the byte count goes back (a restarted transfer)', () => {
    const samples = feed([[0, 0], [1000, 5000], [2000, 100]]);
    expect(samples).toEqual([{ at: 2000, bytes: 100 }]);
  });

  it('shows no time left while nothing moves, and caps the percent', () => {
    expect(readTransfer(feed([[0, 10], [1000, 10]]), 100)).toEqual({ percent: 10, bytesPerSecond: 0, secondsLeft: null });
    expect(readTransfer(feed([[0, 200]]), 100).percent).toBe(100);
  });

  it('says it in words', () => {
    expect(describeTransfer({ percent: 42, bytesPerSecond: 8.1 * 1024 * 1024, secondsLeft: 75 })).toBe('42% · 8.1 MiB/s · 1 min 15 s left');
    expect(describeTransfer({ percent: 3, bytesPerSecond: null, secondsLeft: null })).toBe('3%');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(700 * 1024 * 1024)).toBe('700 MiB');
    expect(formatDuration(3700)).toBe('1 h 1 min');
  });
});
