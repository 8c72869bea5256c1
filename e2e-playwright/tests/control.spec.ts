import type { Page } from '@playwright/test';
import { expect, fleetServers, logIn, openTextConsole, shot, test } from '../support/test.js';

const stateOf = (page: Page, serverId: string) =>
  page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${serverId}"]) [data-testid="console-state"]`);

test('a reload gives the console back in control; a view-only pane says the keys typed were not sent', async ({ page, browser, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');

  // The tab comes back after a reload, in control: the person's own earlier session (still in its
  // grace period) hands control to them instead of making them take it back tab by tab.
  await page.reload();
  await expect(stateOf(page, server!.id)).toHaveAttribute('data-state', 'streaming');
  await expect(stateOf(page, server!.id)).toHaveAttribute('data-mode', 'control');
  await expect(page.getByTestId('take-control')).toHaveCount(0);

  // Another person joins the same console: view only, and typing says so where they type.
  const other = await browser.newContext();
  const admin = await other.newPage();
  try {
    await logIn(admin, fleet, 'admin');
    await admin.getByLabel('Filter servers').fill(server!.name);
    await admin.locator('[data-testid="server-row"]', { hasText: server!.name }).first().click({ button: 'right' });
    await admin.getByTestId('menu-open-serial').click();
    await expect(admin.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"]`)).toBeVisible();
    await expect(stateOf(admin, server!.id)).toHaveAttribute('data-state', 'streaming', { timeout: 30_000 });
    await expect(stateOf(admin, server!.id)).toHaveAttribute('data-mode', 'view');
    await admin.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"] .xterm`).click();
    await admin.keyboard.type('ls');
    await expect(admin.getByTestId('view-only-refused')).toContainText('View only — input not sent (2 bytes). operator has control.');
    await shot(admin, '10-view-only-refused');
  } finally {
    await other.close();
  }
});
