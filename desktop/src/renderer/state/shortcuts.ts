import type { SplitMode } from './workspace.js';

/**
 * Keyboard shortcuts, in one table (shown in the help and matched here).
 * Ctrl+Shift so that plain Ctrl+letter keeps reaching the console (Ctrl+C, Ctrl+W
 * in a shell), and so the browser's own Ctrl+T/Ctrl+W/Ctrl+Tab stay the browser's.
 */
export type ShortcutCommand =
  | { command: 'search' }
  | { command: 'next-tab' }
  | { command: 'previous-tab' }
  | { command: 'close-tab' }
  | { command: 'split'; mode: SplitMode }
  | { command: 'local-terminal' }
  | { command: 'pop-out' }
  | { command: 'help' };

export const SHORTCUTS: readonly { keys: string; description: string; command: ShortcutCommand }[] = [
  { keys: 'Ctrl+Shift+F', description: 'Search the server tree', command: { command: 'search' } },
  { keys: 'Ctrl+Shift+PageDown', description: 'Next tab', command: { command: 'next-tab' } },
  { keys: 'Ctrl+Shift+PageUp', description: 'Previous tab', command: { command: 'previous-tab' } },
  { keys: 'Ctrl+Shift+W', description: 'Close tab', command: { command: 'close-tab' } },
  { keys: 'Ctrl+Shift+1', description: 'Single pane', command: { command: 'split', mode: 'single' } },
  { keys: 'Ctrl+Shift+2', description: 'Split side by side', command: { command: 'split', mode: 'horizontal' } },
  { keys: 'Ctrl+Shift+3', description: 'Split stacked', command: { command: 'split', mode: 'vertical' } },
  { keys: 'Ctrl+Shift+4', description: '2×2 grid', command: { command: 'split', mode: 'grid' } },
  { keys: 'Ctrl+Shift+T', description: 'Local terminal (desktop)', command: { command: 'local-terminal' } },
  { keys: 'Ctrl+Shift+O', description: 'Pop the tab out to a window', command: { command: 'pop-out' } },
  { keys: 'Ctrl+Shift+/', description: 'Show shortcuts', command: { command: 'help' } },
];

export interface KeyLike {
  key: string;
  code: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

/** The key name a shortcut uses for this event: physical digits and letters, so layouts and Shift do not matter. */
function keyName(event: KeyLike): string {
  if (/^Digit\d$/.test(event.code)) return event.code.slice(5);
  if (/^Key[A-Z]$/.test(event.code)) return event.code.slice(3);
  if (event.code === 'Slash') return '/';
  return event.key;
}

export function matchShortcut(event: KeyLike): ShortcutCommand | null {
  // Cmd on macOS plays the role of Ctrl.
  if (!(event.ctrlKey || event.metaKey) || !event.shiftKey || event.altKey) return null;
  const pressed = `Ctrl+Shift+${keyName(event)}`;
  return SHORTCUTS.find((shortcut) => shortcut.keys === pressed)?.command ?? null;
}
