import { describe, expect, it } from 'vitest';
import { CastCursor, parseAsciicast } from './asciicast.js';

const cast = [
  JSON.stringify({ version: 2, width: 100, height: 30, timestamp: 1_700_000_000, title: 'web-01 sol (alice)' }),
  JSON.stringify([0.5, 'o', 'boot ']),
  JSON.stringify([1.0, 'i', 'typed']),
  JSON.stringify([1.25, 'o', 'login: ']),
  JSON.stringify([2.0, 'o', 'root\r\n']),
  JSON.stringify([3.5, 'o', '# ']),
  '',
].join('\n');

describe('parseAsciicast', () => {
  it('reads the header and the output events, skipping input events', () => {
    const parsed = parseAsciicast(cast);
    expect(parsed).toMatchObject({ width: 100, height: 30, title: 'web-01 sol (alice)', duration: 3.5 });
    expect(parsed.events).toEqual([
      { time: 0.5, text: 'boot ' },
      { time: 1.25, text: 'login: ' },
      { time: 2.0, text: 'root\r\n' },
      { time: 3.5, text: '# ' },
    ]);
  });

  it('refuses what is not asciicast v2, with a stable code', () => {
    expect(() => parseAsciicast('RFB 003.008\n')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => parseAsciicast(JSON.stringify({ version: 1 }))).toThrow(/version 1/);
    expect(() => parseAsciicast(`${JSON.stringify({ version: 2 })}\n[1, "o"]`)).toThrow(/line 2/);
  });

  it('keeps events in time order when a writer went backwards', () => {
    const parsed = parseAsciicast([JSON.stringify({ version: 2 }), '[2, "o", "a"]', '[1, "o", "b"]'].join('\n'));
    expect(parsed.events.map((event) => event.time)).toEqual([2, 2]);
  });
});

describe('CastCursor', () => {
  it('plays forward writing each event once', () => {
    const cursor = new CastCursor(parseAsciicast(cast));
    expect(cursor.advanceTo(0.4)).toBe('');
    expect(cursor.advanceTo(1.3)).toBe('boot login: ');
    expect(cursor.advanceTo(1.3)).toBe('');
    expect(cursor.advanceTo(10)).toBe('root\r\n# ');
    expect(cursor.position).toBe(4);
  });

  it('seeks backward and forward by re-rendering from the start', () => {
    const cursor = new CastCursor(parseAsciicast(cast));
    cursor.advanceTo(10);
    expect(cursor.seek(1.25)).toBe('boot login: ');
    expect(cursor.advanceTo(2)).toBe('root\r\n');
    expect(cursor.seek(0)).toBe('');
    expect(cursor.seek(3.5)).toBe('boot login: root\r\n# ');
  });

  it('finds the event count for a time by binary search over a large recording', () => {
    const lines = [JSON.stringify({ version: 2 })];
    for (let index = 0; index < 100_000; index += 1) lines.push(JSON.stringify([index / 100, 'o', 'x']));
    const cursor = new CastCursor(parseAsciicast(lines.join('\n')));
    expect(cursor.countUpTo(500)).toBe(50_001);
    expect(cursor.seek(999.99)).toHaveLength(100_000);
  });
});
