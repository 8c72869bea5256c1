import { describe, expect, it } from 'vitest';
import { matchShortcut, SHORTCUTS } from './shortcuts.js';

const key = (code: string, key: string, modifiers: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) => ({
  code, key, ctrlKey: true, metaKey: false, shiftKey: true, altKey: false, ...modifiers,
});

describe('shortcuts', () => {
  it('matches by physical key, so Shift+2 ("@" or "\\"") still means split', () => {
    expect(matchShortcut(key('Digit2', '@'))).toEqual({ command: 'split', mode: 'horizontal' });
    expect(matchShortcut(key('Digit4', '$'))).toEqual({ command: 'split', mode: 'grid' });
    expect(matchShortcut(key('KeyF', 'F'))).toEqual({ command: 'search' });
    expect(matchShortcut(key('PageDown', 'PageDown'))).toEqual({ command: 'next-tab' });
    expect(matchShortcut(key('KeyF', 'F', { ctrlKey: false, metaKey: true }))).toEqual({ command: 'search' });
  });

  it('leaves plain Ctrl keys and Alt combinations to the console', () => {
    expect(matchShortcut(key('KeyC', 'c', { shiftKey: false }))).toBeNull();
    expect(matchShortcut(key('KeyW', 'W', { altKey: true }))).toBeNull();
    expect(matchShortcut(key('KeyZ', 'Z'))).toBeNull();
  });

  it('has no two shortcuts on the same keys', () => {
    expect(new Set(SHORTCUTS.map((shortcut) => shortcut.keys)).size).toBe(SHORTCUTS.length);
  });
});
