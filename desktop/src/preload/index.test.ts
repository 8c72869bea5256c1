import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { DesktopApi } from '../common/desktop-api.js';
import { MainChannel, RendererChannel } from '../common/ipc-channels.js';

// Electron is mocked at the boundary the preload touches: contextBridge and ipcRenderer.
const exposed = new Map<string, unknown>();
const invoked: { channel: string; args: unknown[] }[] = [];
const listeners = new Map<string, Set<(event: unknown, value: unknown) => void>>();
// The window's own listeners, as the preload registers them (the sandboxed preload shares the page's DOM).
const windowListeners: { type: string; listener: (event: unknown) => void; capture: unknown }[] = [];
vi.stubGlobal('addEventListener', (type: string, listener: (event: unknown) => void, capture: unknown) => void windowListeners.push({ type, listener, capture }));

/** A File as Electron hands it over: one dropped from disk has a path, one made by script has none. */
class FakeFile {
  constructor(readonly diskPath: string) {}
}

vi.mock('electron', () => ({
  webUtils: { getPathForFile: (file: FakeFile) => file.diskPath },
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

function drop(event: { isTrusted: boolean; dataTransfer: { files: FakeFile[] } | null }): void {
  for (const entry of windowListeners) if (entry.type === 'drop') entry.listener(event);
}

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
    expect(await api.files.pick()).toBe(`result of ${MainChannel.PickLocalFile}`);
    await api.files.read('/tmp/x');
    drop({ isTrusted: true, dataTransfer: { files: [new FakeFile('/home/u/a.iso')] } });
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

  it('reports the path of each file of a trusted drop to main before the page sees the drop', () => {
    const dropListeners = windowListeners.filter((entry) => entry.type === 'drop');
    expect(dropListeners.map((entry) => entry.capture)).toEqual([true]);
    drop({ isTrusted: true, dataTransfer: { files: [new FakeFile('/home/u/Downloads/a.iso'), new FakeFile(''), new FakeFile('/home/u/b.sh')] } });
    expect(invoked).toEqual([
      { channel: MainChannel.GrantDroppedFile, args: ['/home/u/Downloads/a.iso'] },
      { channel: MainChannel.GrantDroppedFile, args: ['/home/u/b.sh'] },
    ]);
  });

  it('grants nothing for a drop the page script made up (untrusted) or one without files', () => {
    drop({ isTrusted: false, dataTransfer: { files: [new FakeFile('/home/u/.ssh/id_ed25519')] } });
    drop({ isTrusted: true, dataTransfer: null });
    expect(invoked).toEqual([]);
  });

  it("gives the page a dropped file's path, and nothing for a file made by script", () => {
    expect(api.files.pathOf(new FakeFile('/home/u/Downloads/a.iso') as unknown as File)).toBe('/home/u/Downloads/a.iso');
    expect(api.files.pathOf(new FakeFile('') as unknown as File)).toBeNull();
    expect(invoked).toEqual([]);
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
