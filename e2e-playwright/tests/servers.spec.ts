import { consoleText, expect, findServer, fleetServers, logIn, openTextConsole, serverAction, shot, test } from '../support/test.js';

test('finds a server by search, shows power and agent badges, power-cycles it from the menu', async ({ page, fleet }) => {
  const server = fleet.servers.find((entry) => entry.serial) ?? fleet.servers[0]!;
  await logIn(page, fleet);
  const row = await findServer(page, server.name);
  await expect(row.getByTestId('agent-badge')).toHaveAttribute('data-agent', 'online');
  await expect(row.getByTestId('power-badge')).toHaveAttribute('data-power', /on|off/);
  await shot(page, '03-tree-search');

  // Watch the boot log live while cycling.
  if (server.serial) await openTextConsole(page, server, 'serial');
  await serverAction(page, server.name, 'menu-power-cycle');
  await expect(page.getByTestId('confirm-dialog')).toBeVisible();
  // A destructive confirmation starts on Cancel: Enter alone never cycles a server.
  await expect(page.getByTestId('confirm-dialog').getByRole('button', { name: 'Cancel' })).toBeFocused();
  await shot(page, '04-power-cycle-confirm');
  await page.getByTestId('confirm-button').click();
  await expect(page.getByTestId('toast').filter({ hasText: server.id })).toContainText(/Power cycle (done|accepted)/);
  if (server.serial) await expect(consoleText(page, server.id)).toContainText(/boot|BIOS|POST|login/i, { timeout: 30_000 });
  await shot(page, '05-power-cycled');
});

test('bulk power cycle on a multi-selection reports a result per server', async ({ page, fleet }) => {
  fleetServers(fleet, 'servers', () => true, 2);
  await logIn(page, fleet);
  await page.getByLabel('Filter servers').fill('');
  const rows = page.getByTestId('server-row');
  await rows.nth(0).click();
  await rows.nth(1).click({ modifiers: ['Control'] });
  await expect(page.getByTestId('selection-bar')).toContainText('2 selected');
  await page.getByTestId('selection-bar').getByRole('button', { name: /Actions/ }).click();
  // Power on is offered while one of them is not on; the cycle (confirmed) applies to running servers.
  await page.getByTestId('menu-power-cycle').click();
  await page.getByTestId('confirm-button').click();
  const results = page.getByTestId('results-dialog');
  await expect(results.getByTestId('result-row')).toHaveCount(2);
  await expect(results.locator('[data-testid="result-row"][data-ok="true"]')).toHaveCount(2);
  await shot(page, '06-bulk-results');
});

test('the tree shows each server\'s whole name beside its badges; the BMC link badge gives way first', async ({ page, fleet }) => {
  await logIn(page, fleet);
  const rows = page.getByTestId('server-row');
  await expect(rows.first()).toBeVisible();
  // Wait until the agent has reported its BMC links: the widest badge, the one that used to squeeze the names.
  await expect(rows.first().getByTestId('bmc-link-badge')).toBeVisible({ timeout: 30_000 });
  await shot(page, '03b-tree-names');
  const layout = await rows.evaluateAll((elements) => elements.map((row) => {
    const name = row.querySelector<HTMLElement>('.name')!;
    const power = row.querySelector<HTMLElement>('[data-testid="power-badge"]')!;
    return { name: name.textContent, whole: name.scrollWidth <= name.clientWidth, powerInside: power.getBoundingClientRect().right <= row.getBoundingClientRect().right };
  }));
  expect(layout.length).toBeGreaterThan(0);
  expect(layout.filter((row) => !row.whole || !row.powerInside)).toEqual([]);
});

test('state-aware actions: power on is disabled on a running server and does nothing when clicked; a selection the filter hides is not counted', async ({ page, fleet }) => {
  fleetServers(fleet, 'servers', () => true, 2);
  await logIn(page, fleet);
  const rows = page.getByTestId('server-row');
  const filter = page.getByLabel('Filter servers');
  await filter.fill('power:on');
  await expect(rows.first()).toBeVisible({ timeout: 30_000 });
  const running = rows.first();
  const powerRequests: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /\/v1\/servers\/[^/]+\/power$/.test(new URL(request.url()).pathname)) powerRequests.push(request.url());
  });
  await running.click({ button: 'right' });
  const powerOn = page.getByTestId('menu-power-on');
  await expect(powerOn).toHaveAttribute('aria-disabled', 'true');
  await expect(page.getByTestId('menu-power-off')).not.toHaveAttribute('aria-disabled', 'true');
  // A click that CSS does not stop (a script's, an assistive tool's): nothing runs and the menu stays.
  await powerOn.dispatchEvent('click');
  await expect(powerOn).toBeVisible();
  expect(powerRequests).toEqual([]);
  await page.keyboard.press('Escape');

  // Two selected; the filter then hides one: "1 selected", and the actions reach only the one shown.
  await filter.fill('');
  await rows.nth(0).click();
  await rows.nth(1).click({ modifiers: ['Control'] });
  await expect(page.getByTestId('selection-bar')).toContainText('2 selected');
  const shown = (await rows.nth(0).getAttribute('data-server-id'))!;
  await filter.fill(`id:${shown}`);
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('selection-bar')).toContainText('1 selected');
});
