import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import type { AuthState } from '../common/desktop-api.js';
import { MainChannel } from '../common/ipc-channels.js';
import { type InvokeEvent, type IpcMainLike, type MainServices, registerIpcHandlers } from './ipc-handlers.js';

// ipcMain stand-in at the handler level: a channel → listener table we invoke directly.
function fakeIpc() {
  const handlers = new Map<string, (event: InvokeEvent, ...args: unknown[]) => unknown>();
  const ipc: IpcMainLike = {
    handle: (channel, listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel) => handlers.delete(channel),
  };
  const invoke = async (channel: string, url: string, ...args: unknown[]) => {
    const handler = handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler({ senderFrame: { url }, sender: { id: 7 } }, ...args);
  };
  return { ipc, handlers, invoke };
}

const appUrl = 'file:///app/out/renderer/index.html';
const loggedIn: AuthState = { relayUrl: 'https://relay.example', username: 'operator', expiresAt: 2_000_000_000 };

function services(log: unknown[]): MainServices {
  return {
    auth: {
      configure: async (relayUrl) => ({ ...loggedIn, relayUrl }),
      login: async () => loggedIn,
      logout: async () => ({ ...loggedIn, username: null }),
      accessToken: async () => 'token-1',
      stepUp: async (mfa) => {
        if (mfa) return loggedIn;
        throw new LightsoutError('UNAUTHENTICATED', 'login cancelled');
      },
    },
    popOut: async (request) => void log.push(['popOut', request]),
    notify: (title, body) => void log.push(['notify', title, body]),
    saveFile: async (name) => `/home/u/${name}`,
    readLocalFile: async (path) => ({ name: path, bytes: new Uint8Array([1]) }),
    vnc: {
      start: async (request) => (log.push(['vnc', request]), { listenerId: 1, serverId: request.serverId, host: '127.0.0.1', port: 5901, viewOnly: request.viewOnly, url: 'vnc://127.0.0.1:5901', clientOpened: true }),
      stop: async (listenerId) => void log.push(['vnc-stop', listenerId]),
    },
    terminals: {
      spawn: (senderId, request) => (log.push(['spawn', senderId, request]), 3),
      write: (id, data) => void log.push(['write', id, data]),
      resize: () => {},
      kill: () => {},
    },
    isAppUrl: (url) => url.startsWith(appUrl),
  };
}

describe('IPC handlers', () => {
  it('registers exactly one handler per MainChannel and removes them all', () => {
    const { ipc, handlers } = fakeIpc();
    const unregister = registerIpcHandlers(ipc, services([]));
    expect([...handlers.keys()].sort()).toEqual(Object.values(MainChannel).sort());
    unregister();
    expect(handlers.size).toBe(0);
  });

  it('answers our own page and passes validated arguments through', async () => {
    const log: unknown[] = [];
    const { ipc, invoke } = fakeIpc();
    registerIpcHandlers(ipc, services(log));
    expect(await invoke(MainChannel.AuthAccessToken, appUrl)).toBe('token-1');
    expect(await invoke(MainChannel.AuthConfigure, appUrl, 'https://r.example')).toMatchObject({ relayUrl: 'https://r.example' });
    expect(await invoke(MainChannel.TerminalSpawn, `${appUrl}?popout=1`, { cols: 80, rows: 24 })).toBe(3);
    await invoke(MainChannel.Notify, appUrl, 'Power', 'srv-1 is off');
    expect(log).toEqual([['spawn', 7, { cols: 80, rows: 24 }], ['notify', 'Power', 'srv-1 is off']]);
  });

  it('refuses a frame that is not our page', async () => {
    const { ipc, invoke } = fakeIpc();
    registerIpcHandlers(ipc, services([]));
    const error = await invoke(MainChannel.AuthAccessToken, 'https://evil.example/').catch((caught: Error) => caught);
    expect(JSON.parse((error as Error).message)).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('rejects malformed arguments with VALIDATION_FAILED and carries service error codes', async () => {
    const { ipc, invoke } = fakeIpc();
    registerIpcHandlers(ipc, services([]));
    const bad = await invoke(MainChannel.TerminalWrite, appUrl, 'one', 'x').catch((caught: Error) => caught);
    expect(JSON.parse((bad as Error).message)).toMatchObject({ code: 'VALIDATION_FAILED' });
    const notBytes = await invoke(MainChannel.SaveFile, appUrl, 'a.png', 'not bytes').catch((caught: Error) => caught);
    expect(JSON.parse((notBytes as Error).message)).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await invoke(MainChannel.AuthStepUp, appUrl, true)).toEqual(loggedIn);
    const stepUp = await invoke(MainChannel.AuthStepUp, appUrl, 'not a boolean').catch((caught: Error) => caught);
    expect(JSON.parse((stepUp as Error).message)).toEqual({ code: 'UNAUTHENTICATED', message: 'login cancelled' });
  });

  it('opens a VNC listener for a server id and a view-only flag, nothing else', async () => {
    const log: unknown[] = [];
    const { ipc, invoke } = fakeIpc();
    registerIpcHandlers(ipc, services(log));
    expect(await invoke(MainChannel.VncOpen, appUrl, { serverId: 'sim-01', viewOnly: true })).toMatchObject({ port: 5901, url: 'vnc://127.0.0.1:5901' });
    await invoke(MainChannel.VncClose, appUrl, 1);
    for (const request of [{ serverId: '../v1/users', viewOnly: false }, { serverId: 'sim-01', viewOnly: 'yes' }, { serverId: 7, viewOnly: false }, 'sim-01']) {
      const refused = await invoke(MainChannel.VncOpen, appUrl, request).catch((caught: Error) => caught);
      expect(JSON.parse((refused as Error).message)).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(log).toEqual([['vnc', { serverId: 'sim-01', viewOnly: true }], ['vnc-stop', 1]]);
  });
});
