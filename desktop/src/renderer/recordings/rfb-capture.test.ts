import { describe, expect, it } from 'vitest';
import { parseRfbCapture, recordsUpTo } from './rfb-capture.js';

function record(timeMs: number, bytes: number[]): number[] {
  return [(timeMs >>> 24) & 0xff, (timeMs >>> 16) & 0xff, (timeMs >>> 8) & 0xff, timeMs & 0xff, 0, 0, 0, bytes.length, ...bytes];
}

describe('parseRfbCapture', () => {
  it('reads timestamped records byte-exact', () => {
    const version = [...new TextEncoder().encode('RFB 003.008\n')];
    const data = Uint8Array.from([...record(0, version), ...record(300, [1, 1]), ...record(70_000, [0, 0, 0, 0])]);
    const records = parseRfbCapture(data);
    expect(records.map((entry) => entry.timeMs)).toEqual([0, 300, 70_000]);
    expect(new TextDecoder().decode(records[0]!.bytes)).toBe('RFB 003.008\n');
    expect([...records[1]!.bytes]).toEqual([1, 1]);
    expect(recordsUpTo(records, 299)).toBe(1);
    expect(recordsUpTo(records, 300)).toBe(2);
    expect(recordsUpTo(records, 1e9)).toBe(3);
  });

  it('refuses a truncated capture, in a header or in a record', () => {
    expect(() => parseRfbCapture(Uint8Array.from([0, 0, 0, 1, 0]))).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => parseRfbCapture(Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 5, 1, 2]))).toThrow(/truncated in a record/);
  });

  it('refuses an absurd record length before allocating', () => {
    expect(() => parseRfbCapture(Uint8Array.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
  });
});
