import { LightsoutError } from '@lightsout/shared';
import { freeTcpPort, startPeers, startWebsockify, startX11vnc, stopPeers, type VncPeer, type WebsockifyPeer } from '@lightsout/lab/vnc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRfbProxy } from './proxy.js';
import { type WebSocketOptions } from './transport.js';
import { viewFirstFrame } from '../testing/rfb-test-client.js';

// Real peers: Xvfb + x11vnc (libvncserver, as in OpenBMC's obmc-ikvm) with
// and without a password, and websockify in front of each.
let servers: { open: VncPeer; locked: VncPeer } | undefined;
let bridges: { openWs: WebsockifyPeer; lockedWs: WebsockifyPeer; lockedWss: WebsockifyPeer } | undefined;
let open: VncPeer;
let locked: VncPeer;
let openWs: WebsockifyPeer;
let lockedWs: WebsockifyPeer;
let lockedWss: WebsockifyPeer;

beforeAll(async () => {
  servers = await startPeers({ open: () => startX11vnc(), locked: () => startX11vnc({ password: 'vncpass' }) });
  ({ open, locked } = servers);
  bridges = await startPeers({
    openWs: () => startWebsockify(open),
    lockedWs: () => startWebsockify(locked),
    lockedWss: () => startWebsockify(locked, { tls: true }),
  });
  ({ openWs, lockedWs, lockedWss } = bridges);
});

afterAll(async () => {
  await stopPeers(bridges);
  await stopPeers(servers);
});

async function expectRootColourThrough(url: string, password: string | undefined, peer: VncPeer, webSocket?: WebSocketOptions): Promise<void> {
  const proxy = await openRfbProxy({ url, password, webSocket });
  try {
    const view = await viewFirstFrame(proxy.client);
    // The client only ever sees RFB 3.8 with None, whatever the BMC asked for.
    expect(view.serverVersion).toBe('3.8');
    expect(view.offered).toEqual({ kind: 'types', types: [1] });
    expect(view.serverInit).toMatchObject({ width: peer.width, height: peer.height, pixelFormat: { bitsPerPixel: 32, depth: 24, trueColour: true } });
    expect(view.serverInit.name).toBe(`vm:${peer.display}`);
    // A solid root window: the first frame is the known colour everywhere
    // except x11vnc's pointer (a few hundred pixels in the middle).
    expect(view.pixel(1, 1)).toBe(peer.rootColour);
    expect(view.pixel(peer.width - 1, peer.height - 1)).toBe(peer.rootColour);
    expect(view.colourCounts.get(peer.rootColour)).toBeGreaterThan(peer.width * peer.height * 0.99);
  } finally {
    proxy.close();
    expect(await proxy.closed).toBeUndefined();
  }
}

describe('RFB proxy against x11vnc over TCP', () => {
  it('security None: negotiates 3.8 and delivers the real framebuffer', async () => {
    const proxy = await openRfbProxy({ url: open.url });
    expect(proxy.bmc).toMatchObject({ version: '3.8', securityType: { type: 1, name: 'None' }, offeredSecurityTypes: [1] });
    proxy.close();
    await expectRootColourThrough(open.url, undefined, open);
  });

  it('accepts host:port without a scheme', async () => {
    await expectRootColourThrough(`127.0.0.1:${open.port}`, undefined, open);
  });

  it('VNC authentication: the agent answers the challenge, the client sees None', async () => {
    const proxy = await openRfbProxy({ url: locked.url, password: 'vncpass' });
    expect(proxy.bmc).toMatchObject({ version: '3.8', securityType: { type: 2, name: 'VncAuth' }, offeredSecurityTypes: [2] });
    // The BMC's own SecurityResult (OK) is what the client will receive.
    expect(Buffer.from(proxy.bmc.securityResult).toString('hex')).toBe('00000000');
    proxy.close();
    await expectRootColourThrough(locked.url, 'vncpass', locked);
  });

  it('a wrong password fails with BMC_AUTH_FAILED carrying x11vnc’s reason', async () => {
    const failure = await openRfbProxy({ url: locked.url, password: 'wrong' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LightsoutError);
    expect(failure).toMatchObject({ code: 'BMC_AUTH_FAILED', details: { reason: 'password check failed!' } });
  });

  it('no configured password for a server that demands one fails before answering', async () => {
    await expect(openRfbProxy({ url: locked.url })).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED', message: expect.stringContaining('no VNC password') });
  });

  it('a closed port is BMC_UNREACHABLE', async () => {
    await expect(openRfbProxy({ url: `vnc://127.0.0.1:${await freeTcpPort()}` })).rejects.toMatchObject({ code: 'BMC_UNREACHABLE' });
  });

  it('the user never sees the BMC password: the client gets our None handshake, then the BMC ServerInit', async () => {
    const proxy = await openRfbProxy({ url: locked.url, password: 'vncpass' });
    const received: Buffer[] = [];
    proxy.client.on('data', (chunk: Buffer) => received.push(chunk));
    await viewFirstFrame(proxy.client);
    proxy.close();
    await proxy.closed;
    const all = Buffer.concat(received);
    expect(all.includes(Buffer.from('vncpass'))).toBe(false);
    // The handshake part the client saw is exactly: version, [1, None], OK.
    expect(all.subarray(0, 18).toString('hex')).toBe(Buffer.from('RFB 003.008\n').toString('hex') + '0101' + '00000000');
  });
});

describe('RFB proxy against websockify → x11vnc (RFB over WebSocket)', () => {
  it('security None through ws://', async () => {
    const proxy = await openRfbProxy({ url: openWs.url });
    expect(proxy.endpoint.transport).toBe('websocket');
    proxy.close();
    await expectRootColourThrough(openWs.url, undefined, open);
  });

  it('VNC authentication through ws://', async () => {
    await expectRootColourThrough(lockedWs.url, 'vncpass', locked);
  });

  it('a wrong password through ws:// fails the same way', async () => {
    await expect(openRfbProxy({ url: lockedWs.url, password: 'nope' })).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED', details: { reason: 'password check failed!' } });
  });

  it('wss:// with a self-signed certificate: refused by default, works when pinned with ca', async () => {
    await expect(openRfbProxy({ url: lockedWss.url, password: 'vncpass' })).rejects.toMatchObject({ code: 'BMC_UNREACHABLE', message: expect.stringMatching(/self[- ]signed/i) });
    await expectRootColourThrough(lockedWss.url, 'vncpass', locked, { ca: lockedWss.certificate! });
  });
});
