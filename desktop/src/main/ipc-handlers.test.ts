import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import type { AuthState } from '../common/desktop-api.js';
import { MainChannel } from '../common/ipc-channels.js';
import { FileGrants } from './file-grants.js';
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
  const invokeFrom = async (senderId: number, channel: string, url: string, ...args: unknown[]) => {
    const handler = handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler({ senderFrame: { url }, sender: { id: senderId } }, ...args);
  };
  const invoke = (channel: string, url: string, ...args: unknown[]) => invokeFrom(7, channel, url, ...args);
  return { ipc, handlers, invoke, invokeFrom };
}

const appUrl = 'file:///app/out/renderer/index.html';
const loggedIn: AuthState = { relayUrl: 'https://relay.example', username: 'operator', expiresAt: 2_000_000_000 };

function services(log: unknown[], chosen: string | null = null): MainServices {
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
    chooseLocalFile: async (senderId) => (log.push(['choose', senderId]), chosen),
    readLocalFile: async (path) => (log.push(['read', path]), { name: path, bytes: new Uint8Array([1]) }),
    fileGrants: new FileGrants(),
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

  describe('local files: only what the user chose', () => {
    /** The error body main sent back; a call that answered instead fails the test with what it answered. */
    const refusal = (call: Promise<unknown>) =>
      call.then(
        (answer) => {
          throw new Error(`answered instead of refusing: ${JSON.stringify(answer, (_key, value: unknown) => (value instanceof Uint8Array ? [...value] : value))}`);
        },
        (caught: Error) => JSON.parse(caught.message) as { code: string; message: string; hint?: string },
      );

    it('refuses to read a path the renderer names on its own, and reads nothing', async () => {
      const log: unknown[] = [];
      const { ipc, invoke } = fakeIpc();
      registerIpcHandlers(ipc, services(log));
      for (const path of ['/home/operator/.ssh/id_ed25519', '~/.ssh/id_ed25519', '/etc/shadow']) {
        const refused = await refusal(invoke(MainChannel.ReadLocalFile, appUrl, path));
        expect(refused).toEqual({
          code: 'FORBIDDEN',
          message: `${path} was not chosen by the user (open dialog or drop)`,
          hint: 'Choose the file with the open dialog or drop it on the window.',
        });
      }
      expect(log).toEqual([]);
    });

    it('reads the file chosen in the open dialog once, for the window that asked', async () => {
      const log: unknown[] = [];
      const { ipc, invoke, invokeFrom } = fakeIpc();
      registerIpcHandlers(ipc, services(log, '/home/operator/keys/bmc.pem'));
      expect(await invoke(MainChannel.PickLocalFile, appUrl)).toBe('/home/operator/keys/bmc.pem');
      const otherWindow = await refusal(invokeFrom(8, MainChannel.ReadLocalFile, appUrl, '/home/operator/keys/bmc.pem'));
      expect(otherWindow.code).toBe('FORBIDDEN');
      expect(await invoke(MainChannel.ReadLocalFile, appUrl, '/home/operator/keys/bmc.pem')).toEqual({ name: '/home/operator/keys/bmc.pem', bytes: new Uint8Array([1]) });
      const again = await refusal(invoke(MainChannel.ReadLocalFile, appUrl, '/home/operator/keys/bmc.pem'));
      expect(again.code).toBe('FORBIDDEN');
      expect(log).toEqual([['choose', 7], ['read', '/home/operator/keys/bmc.pem']]);
    });

    it('grants nothing when the dialog is cancelled', async () => {
      const log: unknown[] = [];
      const { ipc, invoke } = fakeIpc();
      const main = services(log, null);
      registerIpcHandlers(ipc, main);
      expect(await invoke(MainChannel.PickLocalFile, appUrl)).toBeNull();
      expect(main.fileGrants.size).toBe(0);
    });

    it('reads a file the preload reported as dropped, and refuses a relative path as a drop', async () => {
      const log: unknown[] = [];
      const { ipc, invoke } = fakeIpc();
      registerIpcHandlers(ipc, services(log));
      await invoke(MainChannel.GrantDroppedFile, appUrl, '/home/operator/Downloads/script.sh');
      expect(await invoke(MainChannel.ReadLocalFile, appUrl, '/home/operator/Downloads/script.sh')).toMatchObject({ name: '/home/operator/Downloads/script.sh' });
      const relative = await refusal(invoke(MainChannel.GrantDroppedFile, appUrl, '.ssh/id_ed25519'));
      expect(relative.code).toBe('VALIDATION_FAILED');
      expect(log).toEqual([['read', '/home/operator/Downloads/script.sh']]);
    });

    it('takes no grant from a foreign page', async () => {
      const { ipc, invoke } = fakeIpc();
      const main = services([]);
      registerIpcHandlers(ipc, main);
      const refused = await refusal(invoke(MainChannel.GrantDroppedFile, 'https://evil.example/', '/home/operator/.ssh/id_ed25519'));
      expect(refused.code).toBe('FORBIDDEN');
      expect(main.fileGrants.size).toBe(0);
    });
  });
});
