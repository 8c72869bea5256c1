import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserWindow, shell } from 'electron';
import { decideWindowOpen, isAllowedNavigation } from './navigation-policy.js';

/** The page every window loads: the dev server in development, the built file otherwise. */
export function appUrl(): string {
  const devServer = process.env.ELECTRON_RENDERER_URL;
  if (devServer) return devServer;
  return pathToFileURL(join(import.meta.dirname, '../renderer/index.html')).href;
}

/**
 * One BrowserWindow with the settings that make the renderer a plain
 * sandboxed web page: no Node, isolated preload world, no navigation away from
 * our bundle, no new Electron windows (links go to the system browser), no
 * permissions except clipboard and notifications.
 */
export function createAppWindow(options: { query?: string; title?: string; width?: number; height?: number } = {}): BrowserWindow {
  const window = new BrowserWindow({
    width: options.width ?? 1440,
    height: options.height ?? 900,
    minWidth: 800,
    minHeight: 500,
    title: options.title ?? 'Lightsout',
    show: false,
    backgroundColor: '#1b1f24',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  const base = appUrl();
  window.webContents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternally) void shell.openExternal(decision.openExternally);
    return { action: 'deny' };
  });
  window.webContents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, base)) event.preventDefault();
  });
  window.webContents.on('will-redirect', (event, url) => {
    if (!isAllowedNavigation(url, base)) event.preventDefault();
  });
  window.webContents.session.setPermissionRequestHandler((_contents, permission, callback) => {
    callback(permission === 'clipboard-sanitized-write' || permission === 'clipboard-read' || permission === 'notifications');
  });
  window.once('ready-to-show', () => window.show());
  const url = new URL(base);
  if (options.query) url.search = options.query;
  void window.loadURL(url.href);
  return window;
}
