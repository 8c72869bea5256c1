import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
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
