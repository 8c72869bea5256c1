import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freeTcpPortRun, postgresInstalled } from '@lightsout/lab';
import { scratchDirectories } from '@lightsout/lab/scratch';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, loginThroughDeviceFlow } from '@lightsout/cli/testing';
import { loginWithPassword } from '@lightsout/relay/testing';
import { ChildProcessHandle, REPO_ROOT, eventually, until } from '../lib/processes.js';
import { processesNaming } from '../lib/proc.js';
import { launchChromium, signIn } from '../lib/web-console.js';

/**
 * The regional demo as the issue describes it (`scripts/demo.sh --topology
 * regional`: PostgreSQL, one manager, gateways eu-central-1, eu-central-2
 * and us-east-1, an agent per region with its simulated BMCs), used by a
 * person in Chromium and by the CLI, both signed in at the manager — which
 * never holds an agent, so every request it takes is carried to the gateway
 * that does. Through the real UI: the tree shows both regions, power badges,
 * the server page names the gateway holding the agent, a SOL console echoes
 * what is typed, a power cycle is confirmed and seen on that console as a
 * new boot, a VNC console draws bmcsim's 640×400 screen in noVNC's canvas,
 * an ISO is uploaded and mounted. The CLI does the same at the manager, and
 * reads power through the gateway of the other region.
 */
const scratch = scratchDirectories('lightsout-regional-clients-');
const EU = 'fra1-01';
const US = 'nyc1-01';
const cliBin = join(REPO_ROOT, 'cli/bin/lightsout.js');

let demo: ChildProcessHandle;
let dataDir: string;
let managerUrl: string;
/** gateway-eu-central-1, gateway-eu-central-2, gateway-us-east-1 (the demo's ports after the manager's). */
let gatewayUrls: string[];
let password: string;


beforeAll(async () => {
  expect(postgresInstalled(), 'PostgreSQL must be installed (scripts/lab-packages.txt)').toBe(true);
  dataDir = scratch.make();
  // The manager on `port`, its three gateways on the next three.
  const port = await freeTcpPortRun(4);
  managerUrl = `http://127.0.0.1:${port}`;
  gatewayUrls = [1, 2, 3].map((offset) => `http://127.0.0.1:${port + offset}`);
  // What `scripts/demo.sh --topology regional` execs once the web console is built; one server per region.
  demo = new ChildProcessHandle('demo-regional', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/demo-regional.ts'), '--topology', 'regional', '--port', String(port), '--data-dir', dataDir, '--count', '1'], { ...process.env });
  await demo.waitForOutput(/Lightsout demo is running/, 180_000);
  password = readFileSync(join(dataDir, 'demo-password'), 'utf8').trim();
}, 200_000);

afterAll(async () => {
  if (demo?.running) {
    // SIGTERM: the demo stops what it started (PostgreSQL included), then exits.
    await demo.kill('SIGTERM');
    await eventually('the demo children to exit', 60_000, async () => (processesNaming(dataDir).length === 0 ? true : undefined));
  }
  scratch.removeAll();
}, 90_000);

/** Where the store says a server's agent is connected now (GET /v1/servers/{id}: connection.gateway.url). */
async function holderOf(token: string, serverId: string): Promise<string> {
  const detail = (await (await fetch(`${managerUrl}/v1/servers/${serverId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { connection?: { gateway?: { url: string } } };
  const url = detail.connection?.gateway?.url;
  if (url === undefined) throw new Error(`${serverId}: no gateway holds its agent (${JSON.stringify(detail)})`);
  return url;
}

/** A 1 MiB image with the ISO 9660 primary volume descriptor magic at sector 16. */
function isoImage(seed: number): Buffer {
  const bytes = Buffer.alloc(1024 * 1024);
  for (let index = 0; index < bytes.length; index += 1) bytes[index] = (index * 31 + seed) & 0xff;
  bytes.set([0x01, 0x43, 0x44, 0x30, 0x30, 0x31, 0x01], 16 * 2048);
  return bytes;
}

/**
 * A VNC viewer of the simplest kind (RFC 6143): RFB 3.8, security None (what
 * `lightsout vnc --listen` offers), 32-bit true colour, raw encoding, one
 * full update request. Answers the screen's size and the colours of its
 * pixels.
 */
async function rfbScreen(port: number): Promise<{ width: number; height: number; colours: Set<number> }> {
  const socket = connect(port, '127.0.0.1');
  // Bounded: a silent peer ends the read with an error.
  socket.setTimeout(30_000, () => socket.destroy(new Error('the VNC listener said nothing for 30 s')));
  let buffered = Buffer.alloc(0);
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  socket.on('error', (error) => {
    failed = error;
    wake?.();
  });
  socket.on('close', () => {
    failed ??= new Error('the VNC listener closed the connection');
    wake?.();
  });
  const read = async (length: number): Promise<Buffer> => {
    while (buffered.length < length) {
      if (failed !== undefined) throw failed;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    const bytes = buffered.subarray(0, length);
    buffered = buffered.subarray(length);
    return bytes;
  };
  try {
    expect((await read(12)).toString('latin1')).toMatch(/^RFB 003\.00[378]\n$/);
    socket.write('RFB 003.008\n');
    const types = await read((await read(1))[0]!);
    expect([...types]).toContain(1);
    socket.write(Buffer.from([1]));
    expect((await read(4)).readUInt32BE(0)).toBe(0);
    socket.write(Buffer.from([1])); // ClientInit: shared
    const init = await read(24);
    const width = init.readUInt16BE(0);
    const height = init.readUInt16BE(2);
    await read(init.readUInt32BE(20));
    // SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 8 bits a channel at shifts 16, 8, 0.
    socket.write(Buffer.from([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]));
    socket.write(Buffer.from([2, 0, 0, 1, 0, 0, 0, 0])); // SetEncodings: raw
    const request = Buffer.alloc(10);
    request.writeUInt8(3, 0);
    request.writeUInt16BE(width, 6);
    request.writeUInt16BE(height, 8);
    socket.write(request); // FramebufferUpdateRequest, not incremental, the whole screen
    const colours = new Set<number>();
    for (let covered = 0; covered < width * height; ) {
      const type = (await read(1))[0];
      if (type === 2) continue; // Bell
      if (type === 3) {
        const cut = await read(7);
        await read(cut.readUInt32BE(3));
        continue;
      }
      expect(type, 'a FramebufferUpdate').toBe(0);
      const rectangles = (await read(3)).readUInt16BE(1);
      for (let index = 0; index < rectangles; index += 1) {
        const header = await read(12);
        const area = header.readUInt16BE(4) * header.readUInt16BE(6);
        expect(header.readInt32BE(8), 'raw encoding').toBe(0);
        const pixels = await read(area * 4);
        for (let at = 0; at < pixels.length; at += 4) colours.add(pixels.readUInt32LE(at) & 0xffffff);
        covered += area;
      }
    }
    return { width, height, colours };
  } finally {
    socket.destroy();
  }
}

/** bmcsim's BIOS banner is bold white on VGA blue (bmcsim/src/host/host.ts, text-screen.ts): that blue on a screen is bmcsim's screen. */
const BIOS_BANNER_BLUE = 0x0000aa;

/** Run in the page (this package has no DOM types): the canvas's size and the distinct colours of its pixels (at most 64). */
const canvasColours = (selector: string) => `(() => {
  const canvas = document.querySelector(${JSON.stringify(selector)});
  const context = canvas === null || canvas.width === 0 ? null : canvas.getContext('2d');
  if (context === null) return null;
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let index = 0; index < pixels.length && colours.size < 64; index += 4) colours.add((pixels[index] << 16) | (pixels[index + 1] << 8) | pixels[index + 2]);
  return { width: canvas.width, height: canvas.height, colours: [...colours] };
})()`;

const row = (page: Page, serverId: string) => page.locator(`[data-testid="server-row"][data-server-id="${serverId}"]`);
const consoleText = (page: Page, serverId: string) => page.locator(`[data-testid="sol-console"][data-server-id="${serverId}"] .xterm-rows`);

async function serverAction(page: Page, serverId: string, item: string): Promise<void> {
  await row(page, serverId).click({ button: 'right' });
  await page.getByTestId(item).click();
}

describe('the regional demo (manager + three gateways in two regions + two agents) from the web console and the CLI', () => {
  it('the web console signed in at the manager: both regions in the tree, power read and cycled, SOL echo, VNC pixels, an ISO mounted — each carried to the gateway holding the agent', { timeout: 180_000 }, async () => {
    const token = (await loginWithPassword(managerUrl, 'operator', password)).accessToken;
    const euHolder = await holderOf(token, EU);
    const usHolder = await holderOf(token, US);
    // The agents are on gateways, never on the manager the page talks to; the us-east agent on the us-east gateway.
    expect(gatewayUrls.slice(0, 2)).toContain(euHolder);
    expect(usHolder).toBe(gatewayUrls[2]);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const streams: string[] = [];
      page.on('websocket', (socket) => {
        if (socket.url().includes('/v1/streams/')) streams.push(socket.url());
      });
      const requests: string[] = [];
      page.on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
      await signIn(page, managerUrl, 'operator', password);

      // Both regions in the tree, each server online with its power read through the gateway holding its agent.
      for (const region of ['eu-central', 'us-east']) await page.locator('[data-group]', { hasText: region }).first().waitFor({ timeout: 30_000 });
      for (const id of [EU, US]) {
        await row(page, id).getByTestId('agent-badge').and(page.locator('[data-agent="online"]')).waitFor({ timeout: 30_000 });
        await row(page, id).getByTestId('power-badge').and(page.locator('[data-power="on"]')).waitFor({ timeout: 30_000 });
      }

      // The server page says which gateway carries the server: not the manager that served the page.
      await serverAction(page, EU, 'menu-server-page');
      const connection = page.locator(`[data-testid="server-page"][data-server-id="${EU}"] [data-testid="server-connection"]`);
      await connection.waitFor({ timeout: 30_000 });
      expect(await connection.getAttribute('data-gateway-url')).toBe(euHolder);

      // SOL (IPMI) on the eu-central server: typed text echoes.
      await serverAction(page, EU, 'menu-open-sol');
      const solState = page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${EU}"]) [data-testid="console-state"]`);
      await solState.and(page.locator('[data-state="streaming"][data-mode="control"]')).waitFor({ timeout: 30_000 });
      const marker = `regional-${Date.now().toString(36)}`;
      await page.locator(`[data-testid="sol-console"][data-server-id="${EU}"] .xterm`).click();
      await page.keyboard.type(`echo ${marker}\n`);
      // The command line echoed, then its output on a line of its own.
      await eventually('the SOL echo in the page', 30_000, async () => (((await consoleText(page, EU).textContent()) ?? '').split(marker).length - 1 >= 2 ? true : undefined));
      expect(streams.some((url) => new URL(url).host === new URL(euHolder).host), streams.join('\n')).toBe(true);

      // Power cycle from the server's menu, confirmed in the dialog: the host boots again (its console shows boot #2)
      // and the relay confirms the cycle once the BMC reports the server on again.
      await serverAction(page, EU, 'menu-power-cycle');
      await page.getByTestId('confirm-dialog').getByTestId('confirm-button').click();
      await page.getByTestId('toast').filter({ hasText: EU }).filter({ hasText: /Power cycle (accepted|done)/ }).first().waitFor({ timeout: 30_000 });
      await consoleText(page, EU).filter({ hasText: 'Boot #2' }).waitFor({ timeout: 30_000 });
      const badge = row(page, EU).getByTestId('power-badge');
      // On failure, say what the badge went through and what the manager answered, so a slow or stuck confirmation can be told apart.
      const seenStates: string[] = [];
      // The confirmation reads the BMC through the gateway every second; under a loaded CI machine that can take a while.
      await eventually('the cycle confirmed (no longer pending, power on)', 60_000, async () => {
        const state = `pending=${await badge.getAttribute('data-pending')} power=${await badge.getAttribute('data-power')} feed=${await page.getByTestId('feed-mode').getAttribute('data-mode')}`;
        if (seenStates.at(-1) !== state) seenStates.push(state);
        return (await badge.getAttribute('data-pending')) === null && (await badge.getAttribute('data-power')) === 'on' ? true : undefined;
      }).catch(async (error: unknown) => {
        const detail = await fetch(`${managerUrl}/v1/servers/${EU}`, { headers: { authorization: `Bearer ${token}` } }).then((response) => response.text()).catch((failure: unknown) => String(failure));
        throw new Error(`${String(error)}; the badge was ${seenStates.join(' → ')}; the manager says ${detail.slice(0, 1500)}`);
      });
      await serverAction(page, EU, 'menu-server-page');
      await page.locator(`[data-testid="server-page"][data-server-id="${EU}"]`).getByText(/cycle confirmed after/).waitFor({ timeout: 30_000 });

      // VNC on the us-east server: noVNC's canvas shows bmcsim's screen (640×400, text on a background: several colours).
      await serverAction(page, US, 'menu-open-vnc');
      const canvas = page.locator(`[data-testid="vnc-console"][data-server-id="${US}"] canvas`);
      await canvas.waitFor({ timeout: 30_000 });
      const screen = await eventually('the VNC screen in the canvas', 30_000, async () => {
        const seen = await page.evaluate<{ width: number; height: number; colours: number[] } | null>(canvasColours(`[data-testid="vnc-console"][data-server-id="${US}"] canvas`));
        return seen !== null && seen.colours.includes(BIOS_BANNER_BLUE) ? seen : undefined;
      });
      expect(screen).toMatchObject({ width: 640, height: 400 });
      expect(screen.colours.length).toBeGreaterThanOrEqual(3);
      expect(streams.some((url) => new URL(url).host === new URL(usHolder).host), streams.join('\n')).toBe(true);

      // An ISO mounted on the us-east server from its menu: uploaded to the gateway holding the agent, then mounted.
      await serverAction(page, US, 'menu-mount-iso');
      const dialog = page.getByTestId('mount-iso-dialog');
      await dialog.getByTestId('mount-file-input').setInputFiles({ name: 'regional-web.iso', mimeType: 'application/x-iso9660-image', buffer: isoImage(1) });
      await dialog.getByTestId('mount-iso-button').click();
      const upload = page.getByTestId('upload').filter({ hasText: 'regional-web.iso' });
      await upload.and(page.locator('[data-phase="done"]')).waitFor({ timeout: 60_000 }).catch(async (error: Error) => {
        throw new Error(`${error.message}; the upload says ${await upload.getByTestId('upload-status').textContent().catch(() => '(nothing)')}`);
      });
      await row(page, US).getByTestId('media-badge').and(page.locator('[data-filename="regional-web.iso"]')).waitFor({ timeout: 30_000 });
      const uploads = requests.filter((line) => line.startsWith('PATCH ') && line.includes('/v1/media/uploads/'));
      expect(uploads.length, requests.join('\n')).toBeGreaterThan(0);
      for (const line of uploads) expect(line.startsWith(`PATCH ${usHolder}/`), line).toBe(true);

      const shots = process.env['LIGHTSOUT_TEST_SCREENSHOTS'];
      if (shots !== undefined) await page.screenshot({ path: join(shots, 'regional-web-console.png') });
    } finally {
      await browser.close();
    }
  });

  it('the CLI logged in at the manager: both regions listed, power status and a confirmed cycle seen as a new boot on the SOL console, VNC pixels through --listen, an ISO mounted; power read through the gateway of the other region', { timeout: 180_000 }, async () => {
    const configDir = scratch.make();
    const env = { LIGHTSOUT_CONFIG_DIR: configDir, LIGHTSOUT_TOKEN: '', LIGHTSOUT_RELAY: '' };
    await loginThroughDeviceFlow(managerUrl, env, 'operator', password);
    const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const result = await cli(args, { ...env, ...extra });
      expect(result.code, `lightsout ${args.join(' ')}: ${result.stderr}`).toBe(0);
      return result;
    };

    const listed = JSON.parse((await run(['servers', 'list', '--json'])).stdout) as { servers: { id: string; region: string; agent: string }[] };
    expect(listed.servers.map(({ id, region, agent }) => ({ id, region, agent }))).toEqual(
      expect.arrayContaining([
        { id: EU, region: 'eu-central', agent: 'online' },
        { id: US, region: 'us-east', agent: 'online' },
      ]),
    );
    for (const id of [EU, US]) expect(JSON.parse((await run(['power', 'status', id, '--json'])).stdout), id).toMatchObject({ power: 'on' });

    // SOL on the us-east server; a power cycle from another CLI shows there as the host booting again.
    const console_ = new ChildProcessHandle('lightsout console', process.execPath, [cliBin, 'console', US, '--sol'], { ...process.env, ...env }, { stdin: 'pipe' });
    try {
      await console_.waitForOutput(/~\. to leave/, 30_000);
      const marker = `cli-${Date.now().toString(36)}`;
      console_.child.stdin!.write(`echo ${marker}\r`);
      await until(() => console_.stdout.split(marker).length - 1 >= 2, 30_000, () => `the SOL echo; the console printed: ${console_.stdout.slice(-400)}`);
      const boots = console_.stdout.split('Boot #').length;
      const cycled = JSON.parse((await run(['power', 'cycle', US, '--json'])).stdout) as { power: string; outcome: { action: string; confirmed: boolean } };
      expect(cycled).toMatchObject({ power: 'on', outcome: { action: 'cycle', confirmed: true } });
      await until(() => console_.stdout.split('Boot #').length > boots, 30_000, () => `the new boot on the console; it printed: ${console_.stdout.slice(-400)}`);
      console_.child.stdin!.write('\r~.');
      expect((await console_.exited).code).toBe(0);
    } finally {
      await console_.kill('SIGKILL');
    }

    // VNC of the eu-central server served on a local port: a viewer gets bmcsim's 640×400 screen.
    const listener = new ChildProcessHandle('lightsout vnc --listen', process.execPath, [cliBin, 'vnc', EU, '--listen', '0'], { ...process.env, ...env });
    try {
      const [, port] = (await listener.waitForOutput(/^127\.0\.0\.1:(\d+)$/m, 60_000)) as [string, string];
      const screen = await rfbScreen(Number(port));
      expect(screen.width).toBe(640);
      expect(screen.height).toBe(400);
      expect(screen.colours.has(BIOS_BANNER_BLUE)).toBe(true);
      expect(screen.colours.size).toBeGreaterThanOrEqual(3);
      listener.child.kill('SIGINT');
      expect((await listener.exited).code).toBe(0);
    } finally {
      await listener.kill('SIGKILL');
    }

    // An ISO uploaded (resumable) and mounted on the eu-central server.
    const iso = join(configDir, 'regional-cli.iso');
    writeFileSync(iso, isoImage(2));
    await run(['media', 'mount', EU, iso, '--json']);
    expect(JSON.parse((await run(['media', 'status', EU, '--json'])).stdout)).toMatchObject({ image: { filename: 'regional-cli.iso' } });

    // The gateway of the other region answers for the eu-central server too (routed to the eu-central gateway holding its agent).
    const token = (await loginWithPassword(managerUrl, 'operator', password)).accessToken;
    const usGateway = { LIGHTSOUT_RELAY: gatewayUrls[2]!, LIGHTSOUT_TOKEN: token };
    expect(JSON.parse((await run(['power', 'status', EU, '--json'], usGateway)).stdout)).toMatchObject({ power: 'on' });
    const throughUs = JSON.parse((await run(['servers', 'list', '--json'], usGateway)).stdout) as { servers: { id: string }[] };
    expect(throughUs.servers.map((server) => server.id)).toEqual(expect.arrayContaining([EU, US]));
  });
});
