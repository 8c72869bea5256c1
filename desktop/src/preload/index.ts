import { contextBridge, ipcRenderer, type IpcRendererEvent, webUtils } from 'electron';
import type { AuthState, DesktopApi, TerminalData, TerminalExit } from '../common/desktop-api.js';
import { MainChannel, RendererChannel } from '../common/ipc-channels.js';

// The allow-list: one function per channel, arguments passed through as
// structured clones. The renderer never sees ipcRenderer, the event object or
// any channel not named here.
function subscribe<T>(channel: RendererChannel, listener: (value: T) => void): () => void {
  const wrapped = (_event: IpcRendererEvent, value: T) => listener(value);
  ipcRenderer.on(channel, wrapped);
  return () => ipcRenderer.removeListener(channel, wrapped);
}

// Electron ≥ 32 gives a File's path only through webUtils; '' for a File not on disk.
const pathOf = (file: File): string | null => webUtils.getPathForFile(file) || null;

/** The part of a DOM drop event read here (the preload is compiled without the DOM lib). */
interface DropEventLike {
  readonly isTrusted: boolean;
  readonly dataTransfer: { readonly files: ArrayLike<File> } | null;
}

/**
 * A file the user drops on the window becomes readable through files.read:
 * main is told its path here, in the capture phase, before the page's own
 * handler runs. Only a trusted event counts — one the user made, never one
 * page script dispatched — so a hostile page cannot grant itself ~/.ssh.
 */
function grantDroppedFiles(event: DropEventLike): void {
  if (!event.isTrusted || !event.dataTransfer) return;
  for (const file of Array.from(event.dataTransfer.files)) {
    const path = pathOf(file);
    if (path === null) continue;
    ipcRenderer.invoke(MainChannel.GrantDroppedFile, path).catch((error: unknown) => console.warn('lightsout: a dropped file was not granted:', error));
  }
}
(globalThis as unknown as { addEventListener(type: 'drop', listener: (event: DropEventLike) => void, capture: boolean): void }).addEventListener('drop', grantDroppedFiles, true);

export const desktopApi: DesktopApi = {
  platform: process.platform,
  auth: {
    configure: (relayUrl) => ipcRenderer.invoke(MainChannel.AuthConfigure, relayUrl),
    login: () => ipcRenderer.invoke(MainChannel.AuthLogin),
    logout: () => ipcRenderer.invoke(MainChannel.AuthLogout),
    accessToken: () => ipcRenderer.invoke(MainChannel.AuthAccessToken),
    stepUp: (mfa) => ipcRenderer.invoke(MainChannel.AuthStepUp, mfa),
    onChanged: (listener) => subscribe<AuthState>(RendererChannel.AuthChanged, listener),
  },
  windows: { popOut: (request) => ipcRenderer.invoke(MainChannel.WindowPopOut, request) },
  vnc: {
    open: (request) => ipcRenderer.invoke(MainChannel.VncOpen, request),
    close: (listenerId) => ipcRenderer.invoke(MainChannel.VncClose, listenerId),
  },
  notify: (title, body) => ipcRenderer.invoke(MainChannel.Notify, title, body),
  files: {
    save: (suggestedName, bytes) => ipcRenderer.invoke(MainChannel.SaveFile, suggestedName, bytes),
    pick: () => ipcRenderer.invoke(MainChannel.PickLocalFile),
    pathOf,
    read: (path) => ipcRenderer.invoke(MainChannel.ReadLocalFile, path),
  },
  terminal: {
    spawn: (request) => ipcRenderer.invoke(MainChannel.TerminalSpawn, request),
    write: (terminalId, data) => ipcRenderer.invoke(MainChannel.TerminalWrite, terminalId, data),
    resize: (terminalId, cols, rows) => ipcRenderer.invoke(MainChannel.TerminalResize, terminalId, cols, rows),
    kill: (terminalId) => ipcRenderer.invoke(MainChannel.TerminalKill, terminalId),
    onData: (listener) => subscribe<TerminalData>(RendererChannel.TerminalData, listener),
    onExit: (listener) => subscribe<TerminalExit>(RendererChannel.TerminalExit, listener),
  },
};

contextBridge.exposeInMainWorld('lightsout', desktopApi);
