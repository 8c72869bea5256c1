import type { VncListenerInfo } from '../../common/desktop-api.js';

/**
 * What differs between the web console and the desktop app, behind one
 * interface (the VS Code habit: a service interface, one implementation per
 * environment). Components only ever see `Platform`.
 */
export interface AuthUser {
  username: string;
  /**
   * Who signed in, as a key that tells two users apart across tenants: the
   * token issuer and subject (usernames repeat between tenants). Not a secret;
   * null when unknown, and then nothing is saved for the user (the tab layout).
   */
  account: string | null;
}

export interface PlatformAuth {
  /** Finishes a login in progress (web: the redirect back carries ?code=) and restores a saved session. */
  start(): Promise<AuthUser | null>;
  /** Interactive login. The web console leaves the page (redirect); the desktop resolves when done. */
  login(): Promise<AuthUser | null>;
  logout(): Promise<void>;
  /** A valid access token for the relay API, or null when logged out. Refreshes silently when needed. */
  accessToken(): Promise<string | null>;
  /**
   * Re-authenticate because the relay answered STEP_UP_REQUIRED (`mfa`: with a second factor);
   * true when the retry may proceed now (desktop), false when the page leaves for the login (web).
   */
  stepUp(request: { mfa: boolean }): Promise<boolean>;
}

export interface LocalTerminalApi {
  spawn(cols: number, rows: number): Promise<number>;
  write(terminalId: number, data: string): void;
  resize(terminalId: number, cols: number, rows: number): void;
  kill(terminalId: number): void;
  onData(terminalId: number, listener: (data: string) => void): () => void;
  onExit(terminalId: number, listener: (exitCode: number) => void): () => void;
}

/** A local listener for the user's own VNC client (desktop: main runs it, the token never leaves main). */
export interface VncClientApi {
  open(serverId: string, viewOnly: boolean): Promise<VncListenerInfo>;
  close(listenerId: number): Promise<void>;
}

export interface Platform {
  readonly kind: 'web' | 'desktop';
  /** Origin of the relay; the web console is served by it, the desktop asks the user once. */
  relayUrl(): string | null;
  /** Desktop only: point the app at a relay. */
  setRelayUrl(url: string): Promise<void>;
  readonly auth: PlatformAuth;
  notify(title: string, body: string): void;
  /** Opens a tab in a window of its own (second monitor). */
  popOut(query: string, title: string): void;
  saveFile(name: string, blob: Blob): Promise<void>;
  /** Local shells: desktop only. */
  readonly localTerminal: LocalTerminalApi | null;
  /** "Open in VNC client": desktop only; the web console shows the CLI command instead. */
  readonly vncClient: VncClientApi | null;
  /**
   * Read a small file (keys, scripts) the user chose: a path from the preload's `files.pick()` or
   * `files.pathOf(droppedFile)`, once; main refuses any other path (FORBIDDEN). Desktop only; ISOs are streamed from the File instead.
   */
  readonly readLocalFile: ((path: string) => Promise<File>) | null;
}
