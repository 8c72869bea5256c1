import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeImage, run } from '../testing/run.js';
import { ManualClock } from '../host/clock.js';
import { Host } from '../host/host.js';
import { NATIVE_PIXEL_FORMAT } from './render.js';
import { encodePalette, FRAMEBUFFER_HEIGHT, FRAMEBUFFER_WIDTH, renderRectangle } from './render.js';
import { RfbTcpServer } from './tcp-server.js';

// The real TightVNC-based client from Debian (speaks RFB 3.3) captures the
// simulated screen; we compare its image with our own rendering of the cells.

let directory: string;
let server: RfbTcpServer | undefined;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'bmcsim-rfb-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(directory, { recursive: true, force: true });
});

function bootedHost(): Host {
  const clock = new ManualClock();
  const host = new Host({ hostname: 'snap-01', clock, timings: { postMs: 10, bootMs: 10 } });
  host.powerOn();
  clock.advance(20);
  host.type(new TextEncoder().encode('root\recho pixels from the simulated host\r'));
  return host;
}

/** Expected RGB of the whole framebuffer, from the same cells the server renders. */
function expectedRgb(host: Host): Uint8Array {
  const pixels = renderRectangle(host.screen, encodePalette(NATIVE_PIXEL_FORMAT), 0, 0, FRAMEBUFFER_WIDTH, FRAMEBUFFER_HEIGHT);
  const rgb = new Uint8Array(FRAMEBUFFER_WIDTH * FRAMEBUFFER_HEIGHT * 3);
  for (let index = 0; index < FRAMEBUFFER_WIDTH * FRAMEBUFFER_HEIGHT; index++) {
    rgb[index * 3] = pixels[index * 4 + 2]!;
    rgb[index * 3 + 1] = pixels[index * 4 + 1]!;
    rgb[index * 3 + 2] = pixels[index * 4]!;
  }
  return rgb;
}

/** Mean absolute difference per 16-pixel text row band. */
function rowErrors(actual: Uint8Array, expected: Uint8Array): number[] {
  const errors: number[] = [];
  const band = FRAMEBUFFER_WIDTH * 16 * 3;
  for (let row = 0; row < FRAMEBUFFER_HEIGHT / 16; row++) {
    let sum = 0;
    for (let index = row * band; index < (row + 1) * band; index++) sum += Math.abs(actual[index]! - expected[index]!);
    errors.push(sum / band);
  }
  return errors;
}

async function snapshot(port: number, extra: string[]): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  const file = join(directory, 'screen.jpg');
  const result = await run('vncsnapshot', ['-quiet', '-encodings', 'raw', '-quality', '100', ...extra, `127.0.0.1::${port}`, file]);
  expect(result.code, result.stderr).toBe(0);
  return decodeImage(file);
}

describe('RFB server with vncsnapshot', () => {
  it('serves the text screen with security None', async () => {
    const host = bootedHost();
    server = new RfbTcpServer(() => ({ host, password: undefined, desktopName: 'snap-01' }));
    const port = await server.listen(0, '127.0.0.1');
    const image = await snapshot(port, []);
    expect([image.width, image.height]).toEqual([FRAMEBUFFER_WIDTH, FRAMEBUFFER_HEIGHT]);
    const expected = expectedRgb(host);
    const errors = rowErrors(image.rgb, expected);
    expect(Math.max(...errors)).toBeLessThan(4);
    // The comparison can fail: the same image against a blank screen differs on text rows.
    const blank = rowErrors(image.rgb, new Uint8Array(expected.length));
    expect(blank[0]).toBeGreaterThan(20); // the blue BIOS banner
    expect(host.screen.text()).toContain('pixels from the simulated host');
    await writeFile(join(tmpdir(), 'bmcsim-last-snapshot.ppm'), Buffer.concat([Buffer.from(`P6 ${image.width} ${image.height} 255\n`), image.rgb]));
  });

  it('requires the VNC password when one is set, and refuses a wrong one', async () => {
    const host = bootedHost();
    server = new RfbTcpServer(() => ({ host, password: 'secret12', desktopName: 'snap-01' }));
    const port = await server.listen(0, '127.0.0.1');
    const good = join(directory, 'good.passwd');
    const bad = join(directory, 'bad.passwd');
    await writeFile(good, (await run('vncpasswd', ['-f'], { input: 'secret12\n' })).stdout, 'latin1');
    await writeFile(bad, (await run('vncpasswd', ['-f'], { input: 'wrongpw1\n' })).stdout, 'latin1');
    const image = await snapshot(port, ['-passwd', good]);
    expect(Math.max(...rowErrors(image.rgb, expectedRgb(host)))).toBeLessThan(4);
    const refused = await run('vncsnapshot', ['-quiet', '-passwd', bad, `127.0.0.1::${port}`, join(directory, 'no.jpg')]);
    expect(refused.code).not.toBe(0);
  });
});
