import { describe, expect, it } from 'vitest';
import { functionKey, keysymOf, keysymsOf } from './keysyms.js';

describe('keysyms for paste-as-keystrokes', () => {
  it('maps ASCII and Latin-1 to themselves, newline to Return, other Unicode above 0x01000000', () => {
    expect(keysymsOf('Ab 1\n')).toEqual([0x41, 0x62, 0x20, 0x31, 0xff0d]);
    expect(keysymOf('é')).toBe(0xe9);
    expect(keysymOf('€')).toBe(0x010020ac);
    expect(keysymOf('😀')).toBe(0x0101f600);
  });

  it('counts CRLF once, skips other control characters, caps the length', () => {
    expect(keysymsOf('a\r\nb\x07c')).toEqual([0x61, 0xff0d, 0x62, 0x63]);
    expect(keysymsOf('x'.repeat(50), 10)).toHaveLength(10);
  });

  it('numbers F-keys from F1 = 0xffbe to F12 = 0xffc9', () => {
    expect(functionKey(1)).toBe(0xffbe);
    expect(functionKey(12)).toBe(0xffc9);
    expect(() => functionKey(13)).toThrow(RangeError);
  });
});
