import { describe, expect, it } from 'vitest';
import { EscapeScanner } from './escape.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe('EscapeScanner', () => {
  it('passes ordinary input through unchanged', () => {
    const scanner = new EscapeScanner();
    expect(text(scanner.scan(bytes('ls -la\r')).forward)).toBe('ls -la\r');
  });

  it('recognises ~. ~B ~? at the start and after a newline, and drops input after leaving', () => {
    const scanner = new EscapeScanner();
    expect(scanner.scan(bytes('~?'))).toEqual({ forward: bytes(''), actions: ['help'] });
    expect(scanner.scan(bytes('echo\r~B'))).toEqual({ forward: bytes('echo\r'), actions: ['break'] });
    expect(scanner.scan(bytes('~.rest'))).toEqual({ forward: bytes(''), actions: ['leave'] });
  });

  it('leaves a ~ in the middle of a line alone, and ~~ sends one ~', () => {
    const scanner = new EscapeScanner();
    expect(text(scanner.scan(bytes('a~.b\r')).forward)).toBe('a~.b\r');
    expect(text(scanner.scan(bytes('~~x')).forward)).toBe('~x');
  });

  it('holds a lone ~ across reads and sends it with the next byte when it is no command', () => {
    const scanner = new EscapeScanner();
    expect(scanner.scan(bytes('\r~')).forward).toEqual(bytes('\r'));
    expect(text(scanner.scan(bytes('x')).forward)).toBe('~x');
    const split = new EscapeScanner();
    split.scan(bytes('~'));
    expect(split.scan(bytes('.'))).toEqual({ forward: bytes(''), actions: ['leave'] });
  });
});
