import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { DesktopApi } from '../common/desktop-api.js';
import { MainChannel, RendererChannel } from '../common/ipc-channels.js';

// Electron is mocked at the boundary the preload touches: contextBridge and ipcRenderer.
const exposed = new Map<string, unknown>();
const invoked: { channel: string; args: unknown[] }[] = [];
const listeners = new Map<string, Set<(event: unknown, value: unknown) => void>>();

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
  ipcRenderer: {
    invoke: async (channel: string, ...args: unknown[]) => {
      invoked.push({ channel, args });
      return `result of ${channel}`;
    },
    on: (channel: string, listener: (event: unknown, value: unknown) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(listener);
    },
    removeListener: (channel: string, listener: (event: unknown, value: unknown) => void) => listeners.get(channel)?.delete(listener),
  },
}));

describe('preload API', () => {
  let api: DesktopApi;
  beforeEach(async () => {
    invoked.length = 0;
    await import('./index.js');
    api = exposed.get('lightsout') as DesktopApi;
  });

  it('exposes exactly one object, window.lightsout, with no ipcRenderer in it', () => {
    expect([...exposed.keys()]).toEqual(['lightsout']);
    expect(JSON.stringify(Object.keys(api))).not.toContain('ipc');
  });

  it('maps every call to its channel and together they use every MainChannel', async () => {
    await api.auth.configure('https://relay.example');
    await api.auth.login();
    await api.auth.logout();
    expect(await api.auth.accessToken()).toBe(`result of ${MainChannel.AuthAccessToken}`);
    await api.auth.stepUp(true);
    await api.windows.popOut({ query: 'popout=x', title: 'x' });
    await api.notify('title', 'body');
    await api.files.save('a.png', new Uint8Array([1, 2]));
    await api.files.read('/tmp/x');
    await api.vnc.open({ serverId: 'sim-01', viewOnly: false });
    await api.vnc.close(1);
    await api.terminal.spawn({ cols: 80, rows: 24 });
    await api.terminal.write(1, 'ls\n');
    await api.terminal.resize(1, 100, 30);
    await api.terminal.kill(1);
    expect(invoked.map((call) => call.channel).sort()).toEqual(Object.values(MainChannel).sort());
    expect(invoked.find((call) => call.channel === MainChannel.TerminalWrite)?.args).toEqual([1, 'ls\n']);
    expect(invoked.find((call) => call.channel === MainChannel.AuthConfigure)?.args).toEqual(['https://relay.example']);
    expect(invoked.find((call) => call.channel === MainChannel.AuthStepUp)?.args).toEqual([true]);
  });

  it('delivers events without the IPC event object and unsubscribes', () => {
    const received: unknown[] = [];
    const unsubscribe = api.terminal.onData((event) => received.push(event));
    for (const listener of listeners.get(RendererChannel.TerminalData) ?? []) listener({ sender: 'secret' }, { terminalId: 1, data: 'hi' });
    expect(received).toEqual([{ terminalId: 1, data: 'hi' }]);
    unsubscribe();
    expect(listeners.get(RendererChannel.TerminalData)?.size).toBe(0);
  });
});
