import { describe, expect, it } from 'vitest';
import { readThemeChoice } from './theme.js';

describe('theme choice', () => {
  it('is what was stored, and the OS default for anything else', () => {
    expect(readThemeChoice('light')).toBe('light');
    expect(readThemeChoice('dark')).toBe('dark');
    expect(readThemeChoice(null)).toBe('system');
    expect(readThemeChoice('sepia')).toBe('system');
  });
});
