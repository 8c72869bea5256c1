/**
 * The typed surface the preload exposes as `window.lightsout`. Shared by the
 * preload (implements it over IPC), main (handles the same shapes) and the
 * renderer's desktop platform adapter (calls it). Pure types and values that
 * cross IPC: structured-cloneable, no functions except the API methods.
 */
export interface AuthState {
  relayUrl: string | null;
  /** Present once logged in. */
  username: string | null;
  /** Seconds since epoch at which the current access token expires. */
  expiresAt: number | null;
}

export interface PopOutRequest {
  /** Query string the new window's renderer reads to know what to show. */
  query: string;
  title: string;
}

export interface TerminalSpawnRequest {
  cols: number;
  rows: number;
}

export interface TerminalData {
  terminalId: number;
  data: string;
}

export interface TerminalExit {
  terminalId: number;
  exitCode: number;
}

export interface LocalFile {
  name: string;
  bytes: Uint8Array;
}

/** "Open in VNC client": a local listener for the server's graphical console. */
export interface VncListenRequest {
  serverId: string;
  /** Every key, pointer and clipboard message of the local VNC client is dropped. */
  viewOnly: boolean;
}

export interface VncListenerInfo {
  listenerId: number;
  serverId: string;
  host: string;
  port: number;
  viewOnly: boolean;
  /** `vnc://127.0.0.1:PORT` */
  url: string;
  /** Whether the OS took the vnc: URL (a VNC client is registered for it). */
  clientOpened: boolean;
}

/** What main's auth answers over IPC; the renderer sees the same calls plus change events. */
export interface AuthCalls {
  configure(relayUrl: string): Promise<AuthState>;
  login(): Promise<AuthState>;
  logout(): Promise<AuthState>;
  /** A valid access token (refreshed by main when close to expiry), or null when logged out. */
  accessToken(): Promise<string | null>;
  /** Re-authenticates with a forced login prompt (`prompt=login`, fresh `auth_time`); `mfa` asks for a second factor. */
  stepUp(mfa: boolean): Promise<AuthState>;
}

export interface DesktopApi {
  readonly platform: string;
  auth: AuthCalls & {
    onChanged(listener: (state: AuthState) => void): () => void;
  };
  windows: { popOut(request: PopOutRequest): Promise<void> };
  vnc: {
    open(request: VncListenRequest): Promise<VncListenerInfo>;
    close(listenerId: number): Promise<void>;
  };
  notify(title: string, body: string): Promise<void>;
  files: {
    save(suggestedName: string, bytes: Uint8Array): Promise<string | null>;
    /** Main's open dialog; the chosen path (then readable once), or null when cancelled. */
    pick(): Promise<string | null>;
    /** Where a dropped (or file-input) File is on disk; null for a File made by script. A dropped path is readable once. */
    pathOf(file: File): string | null;
    /** Reads a path the user chose (pick or drop), once, within 2 minutes; any other path is refused with FORBIDDEN. */
    read(path: string): Promise<LocalFile>;
  };
  terminal: {
    spawn(request: TerminalSpawnRequest): Promise<number>;
    write(terminalId: number, data: string): Promise<void>;
    resize(terminalId: number, cols: number, rows: number): Promise<void>;
    kill(terminalId: number): Promise<void>;
    onData(listener: (event: TerminalData) => void): () => void;
    onExit(listener: (event: TerminalExit) => void): () => void;
  };
}
