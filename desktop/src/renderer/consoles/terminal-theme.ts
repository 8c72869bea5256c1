import type { ITheme } from '@xterm/xterm';

/** Console colours: a calm dark theme regardless of the app theme (BMC output assumes a dark screen). */
export const terminalTheme: ITheme = {
  background: '#0d1014',
  foreground: '#d3d9e0',
  cursor: '#4c8dd6',
  selectionBackground: '#2f4b6b',
  black: '#1a1e23', red: '#e0605a', green: '#3fb27f', yellow: '#d0a03c', blue: '#4c8dd6', magenta: '#b07cd8', cyan: '#3fb2b2', white: '#d3d9e0',
  brightBlack: '#6e7681', brightRed: '#f07b75', brightGreen: '#5fd49c', brightYellow: '#e8be5c', brightBlue: '#73a9e8', brightMagenta: '#c99ce6', brightCyan: '#5fd4d4', brightWhite: '#f5f7fa',
};

export const terminalOptions = {
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Cascadia Mono", Menlo, monospace',
  fontSize: 13,
  scrollback: 20_000,
  theme: terminalTheme,
  allowProposedApi: true,
  cursorBlink: true,
} as const;
