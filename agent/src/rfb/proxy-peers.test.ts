import { startPeers, startX11vnc, startXvnc, stopPeers, type VncPeer } from '@lightsout/lab/vnc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRfbProxy } from './proxy.js';
import { viewFirstFrame } from '../testing/rfb-test-client.js';

// More real peers: TigerVNC Xvnc (VeNCrypt offered before VncAuth, and a
// VeNCrypt-only one), and x11vnc advertising the older 3.3 and 3.7 protocols.
let peers: { xvncDefault: VncPeer; xvncVencryptOnly: VncPeer; x11vnc33: VncPeer; x11vnc37Locked: VncPeer } | undefined;
let xvncDefault: VncPeer;
let xvncVencryptOnly: VncPeer;
let x11vnc33: VncPeer;
let x11vnc37Locked: VncPeer;

beforeAll(async () => {
  peers = await startPeers({
    // A password file and no -SecurityTypes: Xvnc's default list, VeNCrypt first.
    xvncDefault: () => startXvnc({ password: 'vncpass' }),
    xvncVencryptOnly: () => startXvnc({ password: 'vncpass', securityTypes: 'VeNCrypt,TLSVnc', warmUp: false }),
    x11vnc33: () => startX11vnc({ rfbVersion: '3.3' }),
    x11vnc37Locked: () => startX11vnc({ rfbVersion: '3.7', password: 'vncpass' }),
  });
  ({ xvncDefault, xvncVencryptOnly, x11vnc33, x11vnc37Locked } = peers);
});

afterAll(() => stopPeers(peers));

async function expectRootColour(url: string, password: string | undefined, peer: VncPeer): Promise<void> {
  const proxy = await openRfbProxy({ url, password });
  try {
    const view = await viewFirstFrame(proxy.client);
    expect(view.serverVersion).toBe('3.8');
    expect(view.offered).toEqual({ kind: 'types', types: [1] });
    expect(view.serverInit).toMatchObject({ width: peer.width, height: peer.height });
    expect(view.pixel(1, 1)).toBe(peer.rootColour);
    expect(view.colourCounts.get(peer.rootColour)).toBeGreaterThan(peer.width * peer.height * 0.99);
  } finally {
    proxy.close();
    await proxy.closed;
  }
}

describe('RFB proxy against TigerVNC Xvnc', () => {
  it('picks VncAuth although VeNCrypt is offered first', async () => {
    const proxy = await openRfbProxy({ url: xvncDefault.url, password: 'vncpass' });
    expect(proxy.bmc.offeredSecurityTypes).toEqual([19, 2]);
    expect(proxy.bmc.securityType).toEqual({ type: 2, name: 'VncAuth' });
    proxy.close();
    await expectRootColour(xvncDefault.url, 'vncpass', xvncDefault);
  });

  it('a wrong password gets Xvnc’s reason', async () => {
    await expect(openRfbProxy({ url: xvncDefault.url, password: 'wrongpw' })).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED', details: { reason: expect.stringMatching(/\S/) } });
  });

  it('refuses a server offering only VeNCrypt with BMC_UNSUPPORTED naming it', async () => {
    await expect(openRfbProxy({ url: xvncVencryptOnly.url, password: 'vncpass' })).rejects.toMatchObject({
      code: 'BMC_UNSUPPORTED',
      message: expect.stringContaining('VeNCrypt (19)'),
      // Xvnc 1.12 lists 19 once per enabled VeNCrypt subtype.
      details: { offered: [19, 19] },
    });
  });
});

describe('RFB proxy against older protocol versions (x11vnc -rfbversion)', () => {
  it('3.3 server with None: the 3.8 client still gets a SecurityResult', async () => {
    const proxy = await openRfbProxy({ url: x11vnc33.url });
    expect(proxy.bmc).toMatchObject({ serverVersion: { major: 3, minor: 3 }, version: '3.3', securityType: { type: 1 } });
    proxy.close();
    await expectRootColour(x11vnc33.url, undefined, x11vnc33);
  });

  it('3.7 server with VNC authentication', async () => {
    const proxy = await openRfbProxy({ url: x11vnc37Locked.url, password: 'vncpass' });
    expect(proxy.bmc).toMatchObject({ version: '3.7', securityType: { type: 2 } });
    proxy.close();
    await expectRootColour(x11vnc37Locked.url, 'vncpass', x11vnc37Locked);
  });

  it('3.7 wrong password: no reason on the wire, still BMC_AUTH_FAILED', async () => {
    await expect(openRfbProxy({ url: x11vnc37Locked.url, password: 'wrong' })).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED', details: { reason: undefined } });
  });
});
