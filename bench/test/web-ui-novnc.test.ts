import { type VncPeer, type WebsockifyPeer, VNC_ROOT_COLOUR, freeTcpPort, startWebsockify, startX11vnc } from '@lightsout/lab';
import { waitFor } from '@lightsout/lab/wait';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../lib/stack.js';

/**
 * A real third-party web application through the web UI tunnel, opened in a
 * real browser: noVNC's own page and WebSocket, served by `websockify --web
 * /usr/share/novnc` over HTTPS (self-signed, as a BMC's; the agent trusts it
 * on first use) in front of x11vnc, whose root window is a known colour.
 * Chromium opens the session's launch URL, lands on the session's own
 * origin, loads vnc.html there and connects its WebSocket — both through
 * relay and agent processes — and the remote screen's colour is read back
 * from noVNC's canvas.
 */
const CHROMIUM = '/usr/bin/chromium';
// Run in the page (this package has no DOM types): noVNC 1.x draws the remote screen on the one canvas in #noVNC_container.
const CENTRE_PIXEL = `(() => {
  const canvas = document.querySelector('#noVNC_container canvas');
  if (canvas === null || canvas.width === 0) return null;
  return Array.from(canvas.getContext('2d').getImageData(Math.floor(canvas.width / 2), Math.floor(canvas.height / 2), 1, 1).data);
})()`;
const CANVAS_SIZE = `(() => { const canvas = document.querySelector('#noVNC_container canvas'); return canvas === null ? null : [canvas.width, canvas.height]; })()`;

function rgbOf(colour: string): [number, number, number] {
  return [1, 3, 5].map((at) => Number.parseInt(colour.slice(at, at + 2), 16)) as [number, number, number];
}

describe('noVNC through the web UI tunnel, in Chromium', () => {
  let vnc: VncPeer;
  let bridge: WebsockifyPeer;
  let stack: Stack;
  let browser: Browser;
  let webPort: number;

  beforeAll(async () => {
    vnc = await startX11vnc({ width: 320, height: 200 });
    bridge = await startWebsockify({ host: vnc.host, port: vnc.port }, { tls: true, web: '/usr/share/novnc' });
    webPort = await freeTcpPort();
    stack = await startStack([{ id: 'novnc-01', web: { url: `https://127.0.0.1:${bridge.port}` } }], { relayConfig: { webUi: { domain: 'localhost', port: webPort, scheme: 'http' } } });
    // Every *.localhost name is loopback (RFC 6761 §6.3); Chromium knows, and the rule only makes sure it is IPv4 here.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--host-resolver-rules=MAP *.localhost 127.0.0.1'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await bridge?.stop();
    await vnc?.stop();
  });

  it('shows the remote screen: noVNC page and WebSocket served by websockify, through relay and agent', { timeout: 90_000 }, async () => {
    const created = await fetch(`${stack.relayUrl}/v1/servers/novnc-01/sessions`, { method: 'POST', headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'web' }) });
    expect(created.status).toBe(201);
    const session = (await created.json()) as { webUrl: string; streamUrl: string };
    const page = await browser.newPage();
    const launched = await page.goto(session.webUrl);
    // The launch lands on the session's origin, with websockify's own answer for `/`.
    expect(new URL(page.url()).origin).toBe(session.streamUrl);
    expect(launched?.status()).toBeLessThan(500);
    const started = performance.now();
    await page.goto(`${session.streamUrl}/vnc.html?autoconnect=true&resize=off&reconnect=false&path=websockify`);
    const [red, green, blue] = rgbOf(VNC_ROOT_COLOUR);
    const centre = await waitFor(
      () => `noVNC's canvas to show the remote root colour ${VNC_ROOT_COLOUR}`,
      async () => {
        const pixel = await page.evaluate<number[] | null>(CENTRE_PIXEL);
        return pixel !== null && pixel[0] === red && pixel[1] === green && pixel[2] === blue ? pixel : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    process.stdout.write(`web-ui-novnc: remote colour on noVNC's canvas ${(performance.now() - started).toFixed(0)} ms after vnc.html was asked for\n`);
    expect(centre.slice(0, 3)).toEqual([red, green, blue]);
    const size = await page.evaluate<number[] | null>(CANVAS_SIZE);
    expect(size).toEqual([vnc.width, vnc.height]);
    await page.close();
  });
});
