import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@lightsout/lab/wait';
import { Bmc } from '../bmc/bmc.js';
import { bmcConfig } from '../bmc/config.js';
import { NATIVE_PIXEL_FORMAT } from './render.js';
import { encodePalette, FRAMEBUFFER_HEIGHT, FRAMEBUFFER_WIDTH, renderRectangle } from './render.js';

// A real browser client: Debian's noVNC 1.3 (vnc_lite.html) in Chromium,
// connected to the BMC's /kvm/0 WebSocket with a Redfish session cookie, as
// OpenBMC's web UI connects. The canvas must show our screen, and typing in
// the page must reach the host's shell.

const NOVNC = '/usr/share/novnc';
let bmc: Bmc;
let webPort: number;
let pages: Server;
let pagesPort: number;
let browser: Browser;

beforeAll(async () => {
  bmc = new Bmc(bmcConfig('novnc-01', { timings: { postMs: 5, bootMs: 5 } }));
  const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: undefined });
  webPort = endpoints.webPort;
  await waitFor('boot', () => bmc.host.powerState === 'running', { timeoutMs: 5000, wake: (wake) => (bmc.host.on('power', wake), () => bmc.host.off('power', wake)) });
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };
  pages = createServer((request, response) => {
    const path = normalize(new URL(request.url ?? '/', 'http://x').pathname).replace(/^(\.\.[/\\])+/, '');
    readFile(join(NOVNC, path)).then(
      (body) => response.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  const address = pages.address();
  pagesPort = typeof address === 'object' && address ? address.port : 0;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => pages?.close(() => resolve()));
  await bmc?.stop();
});

describe('noVNC in Chromium over /kvm/0', () => {
  it('shows the host screen and types into the shell', async () => {
    const login = await fetch(`http://127.0.0.1:${webPort}/redfish/v1/SessionService/Sessions`, { method: 'POST', body: JSON.stringify({ UserName: 'admin', Password: 'adminpass' }) });
    const token = login.headers.get('x-auth-token')!;
    const context = await browser.newContext();
    await context.addCookies([{ name: 'SESSION', value: token, domain: '127.0.0.1', path: '/' }]);
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${pagesPort}/vnc_lite.html?host=127.0.0.1&port=${webPort}&path=kvm/0`);
    // Page-side code is passed as strings: bmcsim compiles without the DOM lib.
    await page.waitForFunction("document.getElementById('status')?.textContent?.startsWith('Connected')", undefined, { timeout: 15_000 });
    expect(await page.textContent('#status')).toContain('novnc-01');
    // The canvas must match our own rendering of the same cells, row band by row band.
    const readCanvas = () => page.evaluate<number[]>("(() => { const c = document.querySelector('canvas'); return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); })()");
    const expected = renderRectangle(bmc.host.screen, encodePalette(NATIVE_PIXEL_FORMAT), 0, 0, FRAMEBUFFER_WIDTH, FRAMEBUFFER_HEIGHT);
    // Wait until the blue BIOS banner is drawn at (4, 4).
    await page.waitForFunction("(() => { const c = document.querySelector('canvas'); return c !== null && c.width === 640 && c.getContext('2d').getImageData(4, 4, 1, 1).data[2] > 100; })()", undefined, { timeout: 15_000 });
    const canvas = await readCanvas();
    expect(canvas.length).toBe(FRAMEBUFFER_WIDTH * FRAMEBUFFER_HEIGHT * 4);
    let worst = 0;
    for (let row = 0; row < 25; row++) {
      let sum = 0;
      for (let pixel = row * 16 * FRAMEBUFFER_WIDTH; pixel < (row + 1) * 16 * FRAMEBUFFER_WIDTH; pixel++) {
        // canvas RGBA vs our 0x00RRGGBB little-endian (B, G, R, 0)
        sum += Math.abs(canvas[pixel * 4]! - expected[pixel * 4 + 2]!) + Math.abs(canvas[pixel * 4 + 1]! - expected[pixel * 4 + 1]!) + Math.abs(canvas[pixel * 4 + 2]! - expected[pixel * 4]!);
      }
      worst = Math.max(worst, sum / (16 * FRAMEBUFFER_WIDTH * 3));
    }
    expect(worst).toBe(0); // lossless Raw encoding: exact
    await page.click('canvas');
    await page.keyboard.type('root');
    await page.keyboard.press('Enter');
    await waitFor('shell prompt', () => bmc.host.screen.text().includes('root@novnc-01:~#'), { timeoutMs: 10_000, wake: (wake) => (bmc.host.on('serial', wake), () => bmc.host.off('serial', wake)) });
    await context.close();
  }, 60_000);
});
