import { DISCOVERY_ADDRESS } from '../support/fleet.js';
import { expect, findServer, logIn, shot, test } from '../support/test.js';

/**
 * An admin finds a BMC no config names and adopts it, all in the web
 * console: a scan on demand, the finding in the Discovered BMCs list, a
 * refused adoption explained in words, the adoption, and the new server in
 * the tree, online through the agent that found it.
 */
test('an admin scans, adopts a discovered BMC, and sees it in the server tree', async ({ page, fleet }) => {
  test.setTimeout(120_000);
  const name = `found-${Date.now().toString(36)}`;
  await logIn(page, fleet, 'admin');
  await page.getByTestId('open-admin').click();
  await page.getByTestId('admin-section-discovered').click();
  await expect(page.getByTestId('admin-discovered')).toBeVisible();

  // The agent scans only on demand here (intervalSeconds 0): ask, and the finding shows up by itself.
  await expect(page.getByTestId('discovery-scan-agent')).toContainText('e2e-agent');
  await page.getByTestId('discovery-scan').click();
  await expect(page.getByTestId('discovery-scan-note')).toContainText('Scanning on e2e-agent');
  const row = page.locator(`[data-testid="discovered-row"][data-address="${DISCOVERY_ADDRESS}"]`);
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row).toContainText('IPMI 2.0');
  await expect(row).toContainText('Redfish');
  await expect(row).toContainText('e2e-agent');
  await shot(page, '58-admin-discovered');

  await row.getByTestId('discovered-adopt').click();
  const dialog = page.getByTestId('adopt-dialog');
  await dialog.getByTestId('adopt-name').fill(name);
  await dialog.getByTestId('adopt-tenant').selectOption('demo');
  // A credential set the agent does not have: the agent refuses, and the dialog says so in words.
  await dialog.getByTestId('adopt-credentials').fill('no-such-set');
  await dialog.getByTestId('adopt-submit').click();
  await expect(dialog.getByTestId('adopt-error')).toHaveText('Agent e2e-agent has no credential set called “no-such-set”. Use the id of an entry under credentials in its config; the password stays on the agent.');
  await shot(page, '59-admin-adopt-refused');

  await dialog.getByTestId('adopt-credentials').fill('bmcsim-admin');
  await dialog.getByTestId('adopt-submit').click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId('discovery-adopted')).toContainText(`${DISCOVERY_ADDRESS} is now server ${name}`);
  // Adopted ones leave the default list; "Show adopted" brings them back, marked.
  await expect(row).toHaveCount(0);
  await page.getByTestId('discovery-show-adopted').check();
  await expect(row).toContainText(`adopted as ${name}`);

  await page.getByTestId('admin-close').click();
  const server = await findServer(page, name);
  await expect(server).toHaveAttribute('data-server-id', name);
  await expect(server.getByTestId('agent-badge')).toHaveAttribute('data-agent', 'online');
  await shot(page, '60-adopted-in-tree');
});
