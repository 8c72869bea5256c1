import type { Page } from '@playwright/test';
import { consoleText, expect, expectVncScreen, fleetServers, logIn, openTextConsole, serverAction, shot, test, typeLine } from '../support/test.js';

test('SOL: a late viewer gets the earlier output; the session is recorded and plays back with seek', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with SOL', (entry) => entry.sol);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'sol');
  // The tree shows the live console on the server's row (pushed over /v1/events).
  await expect(page.locator(`[data-testid="server-row"][data-server-id="${server!.id}"] [data-testid="sessions-badge"]`)).toBeVisible();
  const marker = `recorded-${Date.now().toString(36)}`;
  await typeLine(page, server!.id, `echo ${marker}`);
  await expect.poll(async () => ((await consoleText(page, server!.id).textContent()) ?? '').split(marker).length - 1).toBeGreaterThanOrEqual(2);

  // The tenant's policy records SOL (the default): the live session's recording is listed first for the server and plays in xterm.js.
  await serverAction(page, server!.name, 'menu-recordings');
  const rows = page.getByTestId('recording-row');
  await expect(rows.first()).toBeVisible();
  await expect(rows.first()).toHaveAttribute('data-kind', 'sol');
  // Each row says how long and how big the recording is, and of which server.
  await expect(rows.first().getByTestId('recording-size')).toHaveText(/^\d+(\.\d)? (B|KiB|MiB)$/);
  await expect(rows.first().getByTestId('recording-duration')).toHaveText(/^\d+ (s|min)/);
  await expect(rows.first()).toContainText(server!.name);
  // The list filters by user, console kind or date.
  const filter = page.getByTestId('recordings-filter');
  await filter.fill('no-such-user');
  await expect(rows).toHaveCount(0);
  await filter.fill('operator sol');
  await expect(rows.first()).toHaveAttribute('data-kind', 'sol');
  await shot(page, '18-recordings-list');
  await rows.first().getByTestId('recording-play').click();
  const screen = page.locator('[data-testid="recording-screen"] .xterm-rows');
  await expect(screen).toContainText(`echo ${marker}`, { timeout: 30_000 });
  await expect(page.getByTestId('recording-toggle')).toHaveText('Play', { timeout: 30_000 });
  // Seek to the start: the screen is re-rendered from nothing; back to the end: all of it again.
  const seek = page.getByTestId('recording-seek');
  await seek.fill('0');
  await expect(screen).not.toContainText(marker);
  const end = await seek.getAttribute('max');
  await seek.fill(end!);
  await expect(screen).toContainText(`echo ${marker}`);
  await expect(page.getByTestId('recording-time')).toContainText('/');
  // Seeking while it plays re-renders the screen once: nothing queued before the seek lands on top of it.
  await expect(page.getByTestId('recording-toggle')).toHaveText('Play');
  const whole = await screen.textContent();
  await page.getByTestId('recording-toggle').click();
  await seek.fill(end!);
  await seek.fill(String(Number(end) / 2));
  await seek.fill(end!);
  await expect(page.getByTestId('recording-toggle')).toHaveText('Play', { timeout: 30_000 });
  await expect(screen).toHaveText(whole!);
  // The player shows the recorded terminal size (the asciicast header), scaled to fill the pane.
  const surface = page.getByTestId('recording-screen');
  await expect(surface).toHaveAttribute('data-cols', /^[1-9]\d*$/);
  const [pane, terminal] = await Promise.all([surface.boundingBox(), surface.locator('.xterm').boundingBox()]);
  expect(Math.max(terminal!.width / pane!.width, terminal!.height / pane!.height)).toBeGreaterThan(0.97);
  await shot(page, '18-recording-playback');

  // A pop-out is a new viewer of the same console: it starts with the output from before it joined (the scrollback).
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.locator(`[data-testid="tab"][data-tab-id="sol:${server!.id}"]`).dblclick()]);
  await expect(popup.locator('.xterm-rows')).toContainText(`echo ${marker}`);
  await popup.close();
});

/** Distinct colours sampled from a canvas: more than one means a real screen, not the blank canvas. */
async function colours(page: Page, selector: string): Promise<number> {
  return page.locator(selector).evaluate((element: HTMLCanvasElement) => {
    const context = element.getContext('2d');
    if (!context || element.width === 0) return 0;
    const pixels = context.getImageData(0, 0, element.width, element.height).data;
    const seen = new Set<number>();
    for (let index = 0; index < pixels.length && seen.size < 64; index += 4 * 97) seen.add((pixels[index]! << 16) | (pixels[index + 1]! << 8) | pixels[index + 2]!);
    return seen.size;
  });
}

test('VNC: the session is recorded (RFB capture) and replays in noVNC, also after seeking back', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with VNC', (entry) => entry.vnc);
  await logIn(page, fleet);
  await serverAction(page, server!.name, 'menu-open-vnc');
  await expectVncScreen(page, server!.id);
  await serverAction(page, server!.name, 'menu-recordings');
  const row = page.locator('[data-testid="recording-row"][data-kind="vnc"]').first();
  await expect(row).toBeVisible();
  await row.getByTestId('recording-play').click();
  const canvas = '[data-testid="recording-screen"] canvas';
  await expect(page.locator(canvas)).toBeVisible();
  await expect.poll(() => colours(page, canvas), { timeout: 30_000 }).toBeGreaterThan(1);
  // Seeking back restarts the RFB and fast-forwards: the screen comes back at the end.
  const seek = page.getByTestId('recording-seek');
  await seek.fill('0');
  await seek.fill((await seek.getAttribute('max'))!);
  await expect.poll(() => colours(page, canvas), { timeout: 30_000 }).toBeGreaterThan(1);
  await shot(page, '19-recording-vnc-playback');
});
