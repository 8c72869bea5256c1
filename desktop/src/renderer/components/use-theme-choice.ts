import { useEffect, useState } from 'react';
import { applyTheme, readThemeChoice, THEME_KEY, type ThemeChoice } from '../state/theme.js';

/**
 * The user's light/dark choice, applied to the page and remembered. "System"
 * is remembered as no entry at all, so the operating system keeps deciding.
 */
export function useThemeChoice(): [ThemeChoice, (choice: ThemeChoice) => void] {
  const [theme, setTheme] = useState<ThemeChoice>(() => readThemeChoice(localStorage.getItem(THEME_KEY)));
  useEffect(() => {
    applyTheme(document.documentElement, theme);
    if (theme === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  return [theme, setTheme];
}
