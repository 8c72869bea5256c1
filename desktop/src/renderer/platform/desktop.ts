import { LightsoutError } from '@lightsout/shared';
import type { DesktopApi } from '../../common/desktop-api.js';
import type { AuthUser, LocalTerminalApi, Platform, PlatformAuth } from './types.js';

const RELAY_KEY = 'lightsout.relayUrl';

/** Errors from main arrive as `Error('{"code":…}')` (see main/ipc-handlers.ts): decode them back. */
async function call<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const json = text.slice(text.indexOf('{'));
    try {
      throw LightsoutError.fromBody(JSON.parse(json));
    } catch (decoded) {
      if (decoded instanceof LightsoutError) throw decoded;
      throw error;
    }
  }
}

/**
 * Who an access token names: its issuer and subject (JWT access tokens,
 * RFC 9068 §2.2), read without verifying (the relay does that) and kept as a
 * key, never the token itself.
 */
export function accountOfToken(token: string | null): string | null {
  const payload = token?.split('.')[1];
  if (!payload) return null;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { iss?: unknown; sub?: unknown };
    return typeof claims.iss === 'string' && typeof claims.sub === 'string' ? `${claims.iss} ${claims.sub}` : null;
  } catch {
    return null;
  }
}

/** Login lives in main (system browser + loopback redirect); the renderer only asks for tokens. */
class DesktopAuth implements PlatformAuth {
  readonly #api: DesktopApi;
  constructor(api: DesktopApi) {
    this.#api = api;
  }
  async start(): Promise<AuthUser | null> {
    const relayUrl = localStorage.getItem(RELAY_KEY);
    if (!relayUrl) return null;
    const state = await call(this.#api.auth.configure(relayUrl));
    const token = state.username ? await this.#api.auth.accessToken() : null;
    if (!state.username || !token) return null;
    return { username: state.username, account: accountOfToken(token) };
  }
  async login(): Promise<AuthUser | null> {
    const state = await call(this.#api.auth.login());
    return state.username ? { username: state.username, account: accountOfToken(await this.#api.auth.accessToken()) } : null;
  }
  async logout(): Promise<void> {
    await call(this.#api.auth.logout());
  }
  accessToken(): Promise<string | null> {
    return call(this.#api.auth.accessToken());
  }
  async stepUp(request: { mfa: boolean }): Promise<boolean> {
    const state = await call(this.#api.auth.stepUp(request.mfa));
    return state.username !== null;
  }
}

function localTerminal(api: DesktopApi): LocalTerminalApi {
  return {
    spawn: (cols, rows) => call(api.terminal.spawn({ cols, rows })),
    write: (terminalId, data) => void api.terminal.write(terminalId, data),
    resize: (terminalId, cols, rows) => void api.terminal.resize(terminalId, cols, rows),
    kill: (terminalId) => void api.terminal.kill(terminalId),
    onData: (terminalId, listener) => api.terminal.onData((event) => event.terminalId === terminalId && listener(event.data)),
    onExit: (terminalId, listener) => api.terminal.onExit((event) => event.terminalId === terminalId && listener(event.exitCode)),
  };
}

export function createDesktopPlatform(api: DesktopApi): Platform {
  return {
    kind: 'desktop',
    relayUrl: () => localStorage.getItem(RELAY_KEY),
    setRelayUrl: async (url) => {
      const origin = new URL(url).origin;
      await call(api.auth.configure(origin));
      localStorage.setItem(RELAY_KEY, origin);
    },
    auth: new DesktopAuth(api),
    notify: (title, body) => void api.notify(title, body),
    popOut: (query, title) => void api.windows.popOut({ query, title }),
    saveFile: async (name, blob) => {
      await call(api.files.save(name, new Uint8Array(await blob.arrayBuffer())));
    },
    localTerminal: localTerminal(api),
    vncClient: {
      open: (serverId, viewOnly) => call(api.vnc.open({ serverId, viewOnly })),
      close: (listenerId) => call(api.vnc.close(listenerId)),
    },
    readLocalFile: async (path) => {
      const file = await call(api.files.read(path));
      return new File([file.bytes.slice()], file.name);
    },
  };
}
