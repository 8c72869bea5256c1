/**
 * Every IPC channel between the renderer (through the preload) and main, in
 * one place, grouped by who answers. Main registers a handler per channel and
 * the preload exposes a function per channel; nothing else crosses.
 */
export enum MainChannel {
  // auth: tokens live in main, the renderer only ever asks for a fresh access token
  AuthConfigure = 'main:auth:configure',
  AuthLogin = 'main:auth:login',
  AuthLogout = 'main:auth:logout',
  AuthAccessToken = 'main:auth:access-token',
  AuthStepUp = 'main:auth:step-up',
  // windows and the OS
  WindowPopOut = 'main:window:pop-out',
  Notify = 'main:notify',
  SaveFile = 'main:file:save',
  // local files: main reads only a path the user chose, in main's open dialog or by a drop (main/file-grants.ts)
  PickLocalFile = 'main:file:pick',
  /** Sent by the preload itself on a trusted drop; not part of window.lightsout. */
  GrantDroppedFile = 'main:file:grant-dropped',
  ReadLocalFile = 'main:file:read',
  // a local VNC listener for the user's own VNC client
  VncOpen = 'main:vnc:open',
  VncClose = 'main:vnc:close',
  // local terminal (node-pty in main)
  TerminalSpawn = 'main:terminal:spawn',
  TerminalWrite = 'main:terminal:write',
  TerminalResize = 'main:terminal:resize',
  TerminalKill = 'main:terminal:kill',
}

/** Events main sends to a renderer. */
export enum RendererChannel {
  TerminalData = 'renderer:terminal:data',
  TerminalExit = 'renderer:terminal:exit',
  AuthChanged = 'renderer:auth:changed',
}
