import { describe, expect, it } from 'vitest';
import { Scrollback } from './scrollback.js';

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

describe('Scrollback', () => {
  it('keeps everything while under capacity, in order', () => {
    const scrollback = new Scrollback(16);
    scrollback.push(bytes('abc'));
    scrollback.push(bytes('def'));
    expect(text(scrollback.snapshot())).toBe('abcdef');
    expect(scrollback.size).toBe(6);
  });

  it('keeps exactly the last capacity bytes, trimming inside a chunk', () => {
    const scrollback = new Scrollback(5);
    scrollback.push(bytes('abc'));
    scrollback.push(bytes('defg'));
    expect(text(scrollback.snapshot())).toBe('cdefg');
    scrollback.push(bytes('hijklmn'));
    expect(text(scrollback.snapshot())).toBe('jklmn');
  });

  it('stays exact over many tiny chunks (SOL delivers a few bytes at a time)', () => {
    const scrollback = new Scrollback(1000);
    let all = '';
    for (let index = 0; index < 20_000; index += 1) {
      const piece = String.fromCharCode(97 + (index % 26));
      all += piece;
      scrollback.push(bytes(piece));
    }
    expect(text(scrollback.snapshot())).toBe(all.slice(-1000));
  });

  it('keeps nothing with capacity 0 (VNC)', () => {
    const scrollback = new Scrollback(0);
    scrollback.push(bytes('frame'));
    expect(scrollback.size).toBe(0);
  });
});
