import type { VncListener, VncListenerOptions, VncListenerOutcome } from '@lightsout/cli/node';
import { LightsoutError, type SessionCreated } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { VncListeners } from './vnc-listeners.js';

const session = { sessionId: 'ses_1', serverId: 'sim-01', kind: 'vnc', mode: 'control', token: 'stream-token', streamUrl: 'ws://relay/v1/streams/ses_1' } as unknown as SessionCreated;

/** The CLI's listener stood in for: it opens the session the way the real one does and records what it was asked. */
function fakeListener(asked: VncListenerOptions[], opened: SessionCreated[]) {
  return async (options: VncListenerOptions): Promise<VncListener> => {
    asked.push(options);
    opened.push(await options.openSession());
    let finish!: (outcome: VncListenerOutcome) => void;
    const done = new Promise<VncListenerOutcome>((resolve) => (finish = resolve));
    return {
      host: '127.0.0.1',
      port: 45901,
      session: opened.at(-1)!,
      viewers: () => 0,
      done,
      close: async () => {
        finish({ reason: 'closed', code: 1000, detail: 'closed by user' });
        return done;
      },
    };
  };
}

describe('VncListeners (desktop main, "Open in VNC client")', () => {
  it("opens a loopback listener on a free port over a session created with the user's token, and hands vnc:// to the OS", async () => {
    const asked: VncListenerOptions[] = [];
    const opened: SessionCreated[] = [];
    const requests: { url: string; init: RequestInit }[] = [];
    const externals: string[] = [];
    const listeners = new VncListeners({
      relayUrl: () => 'https://relay.example',
      accessToken: async () => 'access-1',
      openExternal: async (url) => void externals.push(url),
      log: () => {},
      open: fakeListener(asked, opened),
      fetch: async (url, init) => {
        requests.push({ url: String(url), init: init! });
        return new Response(JSON.stringify(session), { status: 201, headers: { 'content-type': 'application/json' } });
      },
    });
    const info = await listeners.start({ serverId: 'sim-01', viewOnly: true });
    expect(info).toEqual({ listenerId: 1, serverId: 'sim-01', host: '127.0.0.1', port: 45901, viewOnly: true, url: 'vnc://127.0.0.1:45901', clientOpened: true });
    expect(asked[0]).toMatchObject({ host: '127.0.0.1', port: 0, viewOnly: true });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('https://relay.example/v1/servers/sim-01/sessions');
    expect(requests[0]!.init.headers).toMatchObject({ authorization: 'Bearer access-1' });
    expect(JSON.parse(String(requests[0]!.init.body))).toEqual({ kind: 'vnc' });
    expect(opened).toEqual([session]);
    expect(externals).toEqual(['vnc://127.0.0.1:45901']);
    expect(listeners.list()).toHaveLength(1);
    await listeners.stop(1);
    expect(listeners.list()).toEqual([]);
  });

  it('still answers with the address when no VNC client takes vnc:// URLs', async () => {
    const listeners = new VncListeners({
      relayUrl: () => 'https://relay.example',
      accessToken: async () => 'access-1',
      openExternal: async () => Promise.reject(new Error('no handler')),
      log: () => {},
      open: fakeListener([], []),
      fetch: async () => new Response(JSON.stringify(session), { status: 201 }),
    });
    expect(await listeners.start({ serverId: 'sim-01', viewOnly: false })).toMatchObject({ clientOpened: false, url: 'vnc://127.0.0.1:45901' });
    await listeners.stopAll();
  });

  it("carries the relay's refusal (no graphical console) and refuses before sign-in", async () => {
    const refusing = new VncListeners({
      relayUrl: () => 'https://relay.example',
      accessToken: async () => 'access-1',
      openExternal: async () => {},
      log: () => {},
      open: fakeListener([], []),
      fetch: async () => new Response(JSON.stringify({ code: 'BMC_UNSUPPORTED', message: 'server text-01 has no vnc console' }), { status: 409 }),
    });
    await expect(refusing.start({ serverId: 'text-01', viewOnly: false })).rejects.toEqual(new LightsoutError('BMC_UNSUPPORTED', 'server text-01 has no vnc console'));
    const signedOut = new VncListeners({ relayUrl: () => null, accessToken: async () => null, openExternal: async () => {}, log: () => {}, open: fakeListener([], []) });
    await expect(signedOut.start({ serverId: 'sim-01', viewOnly: false })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
