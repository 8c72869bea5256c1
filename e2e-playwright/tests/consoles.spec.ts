import { consoleText, expect, killAndRestartRelay, logIn, serverAction, shot, test } from '../support/test.js';

test('SOL tab: type and see the echo', async ({ page, fleet }) => {
  const server = fleet.servers.find((entry) => entry.sol);
  test.skip(!server, 'no simulated server with SOL');
  await logIn(page, fleet);
  await serverAction(page, server!.name, 'menu-open-sol');
  await expect(page.getByTestId('console-state')).toHaveAttribute('data-state', 'streaming');
  const marker = `lightsout-${Date.now().toString(36)}`;
  await page.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"] .xterm`).click();
  await page.keyboard.type(`echo ${marker}\n`);
  await expect(consoleText(page, server!.id)).toContainText(marker);
  await shot(page, '07-sol-echo');
});

test('VNC tab: the simulated screen arrives (pixel check)', async ({ page, fleet }) => {
  const server = fleet.servers.find((entry) => entry.vnc);
  test.skip(!server, 'no simulated server with VNC');
  await logIn(page, fleet);
  await serverAction(page, server!.name, 'menu-open-vnc');
  const canvas = page.locator(`[data-testid="vnc-console"][data-server-id="${server!.id}"] canvas`);
  await expect(canvas).toBeVisible();
  // Wait until the framebuffer has more than one colour: a real screen, not the blank canvas.
  await expect
    .poll(
      () =>
        canvas.evaluate((element: HTMLCanvasElement) => {
          const context = element.getContext('2d');
          if (!context || element.width === 0) return 0;
          const pixels = context.getImageData(0, 0, element.width, element.height).data;
          const colours = new Set<number>();
          for (let index = 0; index < pixels.length && colours.size < 64; index += 4 * 97) colours.add((pixels[index]! << 16) | (pixels[index + 1]! << 8) | pixels[index + 2]!);
          return colours.size;
        }),
      { timeout: 30_000 },
    )
    .toBeGreaterThan(1);
  await shot(page, '08-vnc');
});

test('split: two consoles side by side', async ({ page, fleet }) => {
  const sol = fleet.servers.find((entry) => entry.sol);
  const vnc = fleet.servers.find((entry) => entry.vnc && entry !== sol) ?? fleet.servers.find((entry) => entry.vnc);
  test.skip(!sol || !vnc, 'needs a SOL and a VNC server');
  await logIn(page, fleet);
  await serverAction(page, sol!.name, 'menu-open-sol');
  await serverAction(page, vnc!.name, 'menu-open-vnc');
  await page.getByRole('button', { name: 'Side by side' }).click();
  await expect(page.getByTestId('panes')).toHaveAttribute('data-split', 'horizontal');
  await expect(page.locator('[data-testid="pane"][data-pane="0"]')).toBeVisible();
  await expect(page.locator('[data-testid="pane"][data-pane="1"]')).toBeVisible();
  await expect(page.locator(`[data-testid="sol-console"][data-server-id="${sol!.id}"]`)).toBeVisible();
  await expect(page.locator(`[data-testid="vnc-console"][data-server-id="${vnc!.id}"]`)).toBeVisible();
  await expect(page.getByTestId('console-state').first()).toHaveAttribute('data-state', 'streaming');
  await shot(page, '09-split');
  // The layout comes back after a reload (persisted).
  await page.reload();
  await expect(page.getByTestId('panes')).toHaveAttribute('data-split', 'horizontal');
  await expect(page.getByTestId('tab')).toHaveCount(2);
});

test('kill -9 the relay: the SOL console shows reconnecting, then resumes without losing output', async ({ page, fleet }) => {
  const server = fleet.servers.find((entry) => entry.sol);
  test.skip(!server, 'no simulated server with SOL');
  await logIn(page, fleet);
  await serverAction(page, server!.name, 'menu-open-sol');
  const state = page.getByTestId('console-state');
  await expect(state).toHaveAttribute('data-state', 'streaming');
  const before = `before-${Date.now().toString(36)}`;
  await page.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"] .xterm`).click();
  await page.keyboard.type(`echo ${before}\n`);
  await expect(consoleText(page, server!.id)).toContainText(before);

  await killAndRestartRelay();
  // While the relay was down the client kept trying; it is back streaming within the grace period.
  await expect(state).toHaveAttribute('data-state', 'streaming', { timeout: 30_000 });
  await shot(page, '12-resumed-after-relay-kill');
  const after = `after-${Date.now().toString(36)}`;
  await page.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"] .xterm`).click();
  await page.keyboard.type(`echo ${after}\n`);
  await expect(consoleText(page, server!.id)).toContainText(after);
  await expect(consoleText(page, server!.id)).toContainText(before);
});
