import { describe, expect, it } from 'vitest';
import { keysymOfKey, type MacroStep, parseMacro, readMacros, runMacro, serialBytesOf } from './macros.js';

describe('key macros', () => {
  it('parses text, named keys, waits and literal braces', () => {
    expect(parseMacro('{F2}{wait 3000}{down}{Down}x{{y}{Enter}')).toEqual([
      { kind: 'key', key: 'F2' },
      { kind: 'wait', ms: 3000 },
      { kind: 'key', key: 'Down' },
      { kind: 'key', key: 'Down' },
      { kind: 'text', text: 'x{y}' },
      { kind: 'key', key: 'Enter' },
    ]);
  });

  it('refuses what it cannot send, with a typed error', () => {
    for (const source of ['{F13}', '{wait 600000}', 'abc{Enter', '']) {
      expect(() => parseMacro(source)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });

  it('encodes keys as a serial terminal and as VNC keysyms', () => {
    const text = (step: Exclude<MacroStep, { kind: 'wait' }>) => new TextDecoder().decode(serialBytesOf(step));
    expect(text({ kind: 'key', key: 'F2' })).toBe('\x1bOQ');
    expect(text({ kind: 'key', key: 'F10' })).toBe('\x1b[21~');
    expect(text({ kind: 'key', key: 'Down' })).toBe('\x1b[B');
    expect(text({ kind: 'key', key: 'Enter' })).toBe('\r');
    expect(keysymOfKey('F2')).toBe(0xffbf);
    expect(keysymOfKey('Down')).toBe(0xff54);
    expect(keysymOfKey('Enter')).toBe(0xff0d);
  });

  it('sends in order with the waits between, and stops at the first step not sent', async () => {
    const log: string[] = [];
    const steps = parseMacro('a{wait 5}b{Enter}c');
    const wait = async (ms: number) => void log.push(`wait ${ms}`);
    expect(await runMacro(steps, (step) => (log.push(step.kind === 'text' ? step.text : step.key), true), wait)).toEqual({ sent: 5, steps: 5 });
    expect(log).toEqual(['a', 'wait 5', 'b', 'Enter', 'c']);
    log.length = 0;
    expect(await runMacro(steps, (step) => step.kind !== 'key' && (log.push(step.kind === 'text' ? step.text : ''), true), wait)).toEqual({ sent: 3, steps: 5 });
    expect(log).toEqual(['a', 'wait 5', 'b']);
  });

  it('reads stored macros, dropping what is not one', () => {
    expect(readMacros('[{"name":"BIOS","source":"{F2}"},{"name":1},"x"]')).toEqual([{ name: 'BIOS', source: '{F2}' }]);
    expect(readMacros('not json')).toEqual([]);
    expect(readMacros(null)).toEqual([]);
  });
});
