/**
 * The app's theme: the OS's (light or dark, `prefers-color-scheme`) unless the
 * person picked one. The choice lives in this browser (or desktop app) and is
 * applied before the first paint as `data-theme` on <html>, which the
 * stylesheet reads; "system" removes it.
 */
export type ThemeChoice = 'system' | 'dark' | 'light';

export const THEME_KEY = 'lightsout.theme.v1';
export const THEME_CHOICES: readonly { choice: ThemeChoice; label: string }[] = [
  { choice: 'system', label: 'Theme: OS default' },
  { choice: 'dark', label: 'Theme: dark' },
  { choice: 'light', label: 'Theme: light' },
];

export function readThemeChoice(stored: string | null): ThemeChoice {
  return stored === 'dark' || stored === 'light' ? stored : 'system';
}

export function applyTheme(root: HTMLElement, choice: ThemeChoice): void {
  if (choice === 'system') delete root.dataset.theme;
  else root.dataset.theme = choice;
}
