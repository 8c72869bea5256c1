import { readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import { app, BrowserWindow, dialog, ipcMain, Notification, safeStorage, shell, webContents } from 'electron';
import type { AuthState } from '../common/desktop-api.js';
import { RendererChannel } from '../common/ipc-channels.js';
import { DesktopAuth } from './desktop-auth.js';
import { FileGrants } from './file-grants.js';
import { registerIpcHandlers } from './ipc-handlers.js';
import { LocalTerminals } from './local-terminals.js';
import { VncListeners } from './vnc-listeners.js';
import { isAppUrl, signInPageUrl } from './navigation-policy.js';
import { TokenStore } from './token-store.js';
import { appUrl, createAppWindow } from './windows.js';

// Reading a file by path is for small things (keys, scripts) the user chose in
// the open dialog or dropped (file-grants.ts); ISOs go through drag-and-drop,
// where the browser streams the File without IPC.
const MAX_LOCAL_FILE_BYTES = 16 * 1024 * 1024;

app.enableSandbox();
if (!app.requestSingleInstanceLock()) app.quit();

const broadcast = (channel: RendererChannel, value: unknown) => {
  for (const contents of webContents.getAllWebContents()) if (isAppUrl(contents.getURL(), appUrl())) contents.send(channel, value);
};

// Terminal output goes only to the window that spawned the pty.
const terminalOwners = new Map<number, number>();
const sendTo = (terminalId: number, channel: RendererChannel, value: unknown) => {
  const owner = terminalOwners.get(terminalId);
  const contents = owner === undefined ? undefined : webContents.fromId(owner);
  contents?.send(channel, value);
};

async function main(): Promise<void> {
  await app.whenReady();
  const store = new TokenStore(join(app.getPath('userData'), 'auth', 'tokens.bin'), safeStorage);
  const auth = new DesktopAuth({
    store,
    openBrowser: (url) => shell.openExternal(signInPageUrl(url)),
    onChanged: (state: AuthState) => broadcast(RendererChannel.AuthChanged, state),
  });
  const { spawn } = await import('node-pty');
  const terminals = new LocalTerminals(spawn, {
    data: (terminalId, data) => sendTo(terminalId, RendererChannel.TerminalData, { terminalId, data }),
    exit: (terminalId, exitCode) => {
      sendTo(terminalId, RendererChannel.TerminalExit, { terminalId, exitCode });
      terminalOwners.delete(terminalId);
    },
  }, process.platform === 'win32' ? { file: 'powershell.exe', args: [] } : { file: process.env.SHELL ?? '/bin/bash', args: ['-l'] });

  const vncListeners = new VncListeners({
    relayUrl: () => auth.state().relayUrl,
    accessToken: () => auth.accessToken(),
    openExternal: (url) => shell.openExternal(url),
    log: (text) => console.info(text),
  });

  const fileGrants = new FileGrants();
  registerIpcHandlers(ipcMain, {
    auth,
    vnc: { start: (request) => vncListeners.start(request), stop: (listenerId) => vncListeners.stop(listenerId) },
    popOut: async ({ query, title }) => void createAppWindow({ query, title, width: 1024, height: 768 }),
    notify: (title, body) => {
      if (Notification.isSupported()) new Notification({ title, body }).show();
    },
    saveFile: async (suggestedName, bytes) => {
      const result = await dialog.showSaveDialog({ defaultPath: join(app.getPath('downloads'), basename(suggestedName)) });
      if (result.canceled || !result.filePath) return null;
      await writeFile(result.filePath, bytes);
      return result.filePath;
    },
    chooseLocalFile: async (windowId) => {
      const contents = webContents.fromId(windowId);
      const window = contents ? BrowserWindow.fromWebContents(contents) : null;
      const options = { properties: ['openFile' as const] };
      const result = await (window ? dialog.showOpenDialog(window, options) : dialog.showOpenDialog(options));
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    readLocalFile: async (path) => {
      const info = await stat(path);
      if (!info.isFile()) throw new LightsoutError('BAD_REQUEST', `${path} is not a file`);
      if (info.size > MAX_LOCAL_FILE_BYTES) throw new LightsoutError('PAYLOAD_TOO_LARGE', `${path} is over 16 MiB`, { hint: 'Drag large files (ISOs) onto the window instead.' });
      return { name: basename(path), bytes: new Uint8Array(await readFile(path)) };
    },
    fileGrants,
    terminals: {
      spawn: (senderId, { cols, rows }) => {
        const env = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
        const terminalId = terminals.spawn(cols, rows, homedir(), { ...env, TERM: 'xterm-256color' });
        terminalOwners.set(terminalId, senderId);
        return terminalId;
      },
      write: (terminalId, data) => terminals.write(terminalId, data),
      resize: (terminalId, cols, rows) => terminals.resize(terminalId, cols, rows),
      kill: (terminalId) => terminals.kill(terminalId),
    },
    isAppUrl: (url) => isAppUrl(url, appUrl()),
  });

  app.on('before-quit', () => {
    terminals.disposeAll();
    void vncListeners.stopAll();
  });
  app.on('window-all-closed', () => {
    terminals.disposeAll();
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (webContents.getAllWebContents().length === 0) createAppWindow();
  });
  app.on('web-contents-created', (_event, contents) => {
    // No <webview>, ever.
    contents.on('will-attach-webview', (event) => event.preventDefault());
    // What a closed window was granted dies with it.
    const windowId = contents.id;
    contents.once('destroyed', () => fileGrants.revokeWindow(windowId));
  });
  createAppWindow();
}

main().catch((error: unknown) => {
  console.error('lightsout desktop failed to start:', error);
  app.exit(1);
});
