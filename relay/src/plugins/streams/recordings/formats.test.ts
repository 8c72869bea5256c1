import { describe, expect, it } from 'vitest';
import { DownloadBudget, asciicastParts, rfbCaptureParts } from './formats.js';
import type { RecordingMeta } from './storage.js';

const meta: RecordingMeta = { id: 'r'.repeat(22), sessionId: 's', serverId: 'sim-01', tenant: 'demo', kind: 'sol', user: 'olga', subject: 'olga', startedAt: 1_000 };

describe('asciicastParts', () => {
  it('renders a header and one line per chunk, a UTF-8 character split between chunks whole with the later one', () => {
    const bytes = Buffer.from('ok\r\nä\u0001', 'utf8');
    // 'ä' is two bytes (offsets 4–5): the first chunk ends in its middle.
    const text = [...asciicastParts(meta, bytes, [[0, 1_000], [5, 1_500], [6, 2_250]])].join('');
    expect(text.split('\n')).toEqual([
      JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1, title: 'sim-01 sol (olga)', env: { TERM: 'xterm-256color' } }),
      '[0,"o","ok\\r\\n"]',
      '[0.5,"o","ä"]',
      '[1.25,"o","\\u0001"]',
      '',
    ]);
  });

  it('streams a text larger than one string could hold in parts of about 64 KiB, each ending at a line', () => {
    // 1 MiB of control bytes renders to over 6 MiB of text; in parts, no one of them is large.
    const bytes = Buffer.alloc(1024 * 1024, 1);
    const times = Array.from({ length: 256 }, (_, index): [number, number] => [index * 4096, 1_000 + index]);
    const parts = [...asciicastParts(meta, bytes, times)];
    expect(parts.length).toBeGreaterThan(80);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(64 * 1024 + 6 * 4096 + 64);
      expect(part.endsWith('\n')).toBe(true);
    }
    const lines = parts.join('').split('\n').slice(1, -1);
    expect(lines).toHaveLength(256);
    expect(lines.every((line) => (JSON.parse(line) as [number, string, string])[2] === '\u0001'.repeat(4096))).toBe(true);
  });
});

describe('rfbCaptureParts', () => {
  it('writes | ms since start u32 | length u32 | bytes | per chunk, byte-exact across parts', () => {
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, index) => index % 251));
    const times: [number, number][] = [[0, 1_000], [100_000, 1_250], [150_000, 2_000]];
    const capture = Buffer.concat([...rfbCaptureParts(meta, bytes, times)]);
    const expected = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0, 0x01, 0x86, 0xa0]), bytes.subarray(0, 100_000),
      Buffer.from([0, 0, 0, 250, 0, 0, 0xc3, 0x50]), bytes.subarray(100_000, 150_000),
      Buffer.from([0, 0, 0x03, 0xe8, 0, 0, 0xc3, 0x50]), bytes.subarray(150_000),
    ]);
    expect(capture.equals(expected)).toBe(true);
  });
});

describe('DownloadBudget', () => {
  it('holds at most its bytes across downloads, always lets one through alone, and gives bytes back once', () => {
    const budget = new DownloadBudget(100);
    const large = budget.take(150)!;
    expect(large).toBeDefined();
    expect(budget.take(1)).toBeUndefined();
    large();
    large();
    const first = budget.take(60)!;
    expect(budget.take(41)).toBeUndefined();
    const second = budget.take(40)!;
    expect(second).toBeDefined();
    first();
    second();
    expect(budget.take(100)).toBeDefined();
  });
});
