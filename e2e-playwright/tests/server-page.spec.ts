import { execFileSync } from 'node:child_process';
import { expect, fleetServers, logIn, openTextConsole, serverAction, shot, test } from '../support/test.js';

/** A small image with the ISO 9660 primary volume descriptor magic ("CD001" at 0x8001), made here. */
function smallIso(megabytes: number): Buffer {
  const bytes = Buffer.alloc(megabytes * 1024 * 1024);
  for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 31) & 0xff;
  bytes.set([0x01, 0x43, 0x44, 0x30, 0x30, 0x31, 0x01], 16 * 2048);
  return bytes;
}

test('Mount ISO… from the menu: a chosen file uploads with percent, rate and time left, mounts, and is offered again as a cached image', async ({ page, fleet }) => {
  const [first, second] = fleetServers(fleet, 'servers with virtual media', (entry) => entry.media, 2);
  await logIn(page, fleet);

  // Slow the browser's uploads to 1 MiB/s, so the 3 MiB upload takes long enough to measure a rate.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });

  await serverAction(page, first!.name, 'menu-mount-iso');
  const dialog = page.getByTestId('mount-iso-dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('mount-iso-button')).toBeDisabled();
  await dialog.getByTestId('mount-file-input').setInputFiles({ name: 'e2e-chooser.iso', mimeType: 'application/x-iso9660-image', buffer: smallIso(3) });
  await expect(dialog.getByTestId('mount-iso-button')).toBeEnabled();
  await shot(page, '40-mount-iso-dialog');
  await dialog.getByTestId('mount-iso-button').click();

  const upload = page.getByTestId('upload').filter({ hasText: 'e2e-chooser.iso' });
  // Percent, rate and time left while it uploads.
  await expect(upload.getByTestId('upload-meter')).toContainText(/\d+% · [\d.]+ (KiB|MiB)\/s · \d+ s left/, { timeout: 30_000 });
  await shot(page, '41-mount-iso-progress');
  await expect(upload.getByTestId('upload-progress')).toHaveAttribute('data-percent', '100', { timeout: 30_000 });
  await expect(upload).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const firstRow = page.locator(`[data-testid="server-row"][data-server-id="${first!.id}"]`);
  await expect(firstRow.getByTestId('media-badge')).toHaveAttribute('data-filename', 'e2e-chooser.iso');

  // The same image on another server: chosen from the cached images, nothing uploaded again.
  await serverAction(page, second!.name, 'menu-mount-iso');
  const cached = dialog.getByTestId('mount-cached-image').filter({ hasText: 'e2e-chooser.iso' });
  await cached.click();
  await shot(page, '42-mount-iso-cached');
  await dialog.getByTestId('mount-iso-button').click();
  const reused = page.getByTestId('upload').filter({ hasText: `→ ${second!.id}` });
  await expect(reused).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  await expect(page.locator(`[data-testid="server-row"][data-server-id="${second!.id}"]`).getByTestId('media-badge')).toHaveAttribute('data-filename', 'e2e-chooser.iso');

  // Leave the fleet as it was: eject both.
  for (const server of [first!, second!]) {
    await serverAction(page, server.name, 'menu-eject');
    await expect(page.locator(`[data-testid="server-row"][data-server-id="${server.id}"]`).getByTestId('media-badge')).toHaveCount(0);
  }
});

test('the fleet overview: its counts match the tree, and a click filters the tree to them', async ({ page, fleet }) => {
  await logIn(page, fleet);
  await page.getByTestId('open-fleet-overview').click();
  const overview = page.getByTestId('fleet-overview');
  await expect(overview).toBeVisible();
  const rows = page.getByTestId('server-row');
  // The configured fleet, and whatever another spec adopted into it (discovery.spec.ts adds one server for good).
  await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(fleet.servers.length);
  const inTree = await rows.count();

  // Every power count is the number of rows its filter leaves in the tree, and they add up to the tree.
  let total = 0;
  for (const state of ['on', 'off', 'unknown']) {
    const button = overview.locator(`[data-testid="fleet-count"][data-filter="power:${state}"]`);
    const value = Number(await button.getAttribute('data-value'));
    total += value;
    await button.click();
    await expect(page.getByLabel('Filter servers')).toHaveValue(`power:${state}`);
    await expect(rows).toHaveCount(value);
  }
  expect(total).toBe(inTree);

  // The datacenter's row: every server in the tree (the e2e fleet has one datacenter and one agent), one agent online, none offline.
  const datacenter = overview.getByTestId('fleet-datacenter').filter({ hasText: 'lab1' });
  await expect(datacenter).toContainText(String(inTree));
  await datacenter.getByTestId('fleet-datacenter-servers').click();
  await expect(page.getByLabel('Filter servers')).toHaveValue('dc:e2e/lab1');
  await expect(rows).toHaveCount(inTree);
  await shot(page, '43-fleet-overview');

  // Open consoles show up: a serial console on one server is one server with a console open.
  const consoles = overview.locator('[data-testid="fleet-count"][data-filter="console:active"]');
  const before = Number(await consoles.getAttribute('data-value'));
  const server = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial)[0]!;
  await serverAction(page, server.name, 'menu-open-serial');
  await page.getByTestId('tab').filter({ hasText: 'Fleet overview' }).click();
  await expect(consoles).toHaveAttribute('data-value', String(before + 1));
  await consoles.click();
  await expect(rows.filter({ hasText: server.name })).toBeVisible();
  await expect(rows).toHaveCount(before + 1);
});

test('the fleet overview lists a critical event a BMC logged, with its time and severity, and opens its server', async ({ page, fleet }) => {
  const server = fleetServers(fleet, 'servers', () => true).at(-1)!;
  // The BMC logs a platform event, as a host's or a chassis' management controller sends one: ipmitool's sample
  // "Temperature - Upper Critical - Going High" (IPMI v2.0 §29.3), over the LAN like the agent's own session.
  const { host, port, username, password } = server.ipmi;
  execFileSync('ipmitool', ['-I', 'lanplus', '-C', '17', '-H', host, '-p', String(port), '-U', username, '-P', password, 'event', '1'], { timeout: 20_000 });

  await logIn(page, fleet);
  await page.getByTestId('open-fleet-overview').click();
  const section = page.getByTestId('fleet-events-section');
  const row = section.locator(`[data-testid="fleet-event"][data-server="${server.id}"]`).filter({ hasText: 'Upper Critical going high' });
  // Read again until the relay's reading of that log is newer than the event (it keeps one for 2 s in this stack).
  await expect(async () => {
    await section.getByRole('button', { name: 'Read again' }).click();
    await expect(row.first()).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
  await expect(row.first()).toHaveAttribute('data-severity', 'critical');
  await expect(row.first()).toHaveClass(/severity-critical/);
  await expect(row.first().locator('time')).toHaveAttribute('title', / UTC$/);
  await expect(section.getByTestId('fleet-events-coverage')).toContainText(/critical events? in the event logs of \d+ servers/);
  await shot(page, '45-fleet-critical-events');

  // A click opens that server's page, and the tree shows only it.
  await row.first().getByRole('button', { name: server.name }).click();
  await expect(page.locator(`[data-testid="server-page"][data-server-id="${server.id}"]`)).toBeVisible();
  await expect(page.getByLabel('Filter servers')).toHaveValue(`id:${server.id}`);
  await expect(page.getByTestId('server-row')).toHaveCount(1);
});

test('a server\'s page: identity and BMC link, sensors with thresholds and a chart of the kept readings, events newest first', async ({ page, fleet }) => {
  const server = fleetServers(fleet, 'servers', () => true)[0]!;
  await logIn(page, fleet);
  await serverAction(page, server.name, 'menu-server-page');
  const serverPage = page.locator(`[data-testid="server-page"][data-server-id="${server.id}"]`);
  await expect(serverPage).toBeVisible();
  await expect(serverPage.getByTestId('server-identity')).toContainText(server.id);
  // What the machine is, as the BMC says over IPMI: vendor, model and serial from bmcsim's FRU (the same the
  // Redfish ComputerSystem reports: serial SIM + the BMC's seed), BMC firmware from Get Device ID, BIOS from
  // Get System Info Parameters.
  const hardware = serverPage.getByTestId('hardware-identity');
  await expect(hardware).toHaveAttribute('data-source', 'ipmi', { timeout: 30_000 });
  await expect(hardware.locator('tr', { hasText: 'Vendor' })).toContainText('Lightsout');
  await expect(hardware.locator('tr', { hasText: 'Model' })).toContainText('bmcsim virtual server');
  await expect(hardware.locator('tr', { hasText: 'BMC firmware' })).toContainText('1.00');
  await expect(hardware.locator('tr', { hasText: 'Serial number' })).toContainText(/SIM\d{6}/);
  await expect(hardware.locator('tr', { hasText: 'BIOS version' })).toContainText('2.4.1');
  // Which agent and gateway carry it. A tenant user (the operator) sees the agent by id — its name and version are
  // the provider's — online, last seen in local time with UTC on hover, and this relay as the gateway holding it.
  const connection = serverPage.getByTestId('server-connection');
  await expect(connection).toHaveAttribute('data-agent-state', 'online');
  await expect(connection).toHaveAttribute('data-gateway-url', fleet.relayUrl);
  await expect(connection.getByTestId('connection-gateway')).toHaveText(`${fleet.relayUrl} · region e2e`);
  await expect(connection.getByTestId('connection-agent')).not.toContainText('version');
  await expect(connection.getByTestId('connection-last-seen').locator('time')).toHaveAttribute('title', / UTC$/);
  // The negotiated RMCP+ cipher suite of the agent's last IPMI login.
  await expect(serverPage.getByTestId('cipher-suite')).toContainText(/cipher suite \d+/);

  // Sensors: the simulated BMC reports lower and upper critical thresholds; statuses are coloured by severity.
  const sensorRows = serverPage.getByTestId('sensor-row');
  await expect(sensorRows.first()).toBeVisible({ timeout: 30_000 });
  await expect(serverPage.locator('[data-testid="sensor-row"] td[data-threshold="upperCritical"]').filter({ hasText: /\d/ }).first()).toBeVisible();
  // The chart draws the readings the agent kept: a second reading comes with the page's next refresh (15 s).
  const chart = serverPage.getByTestId('sensor-chart');
  await expect(chart).toBeVisible();
  await expect(chart.locator('canvas')).toBeVisible();
  await expect.poll(async () => Number(await chart.getAttribute('data-samples')), { timeout: 40_000 }).toBeGreaterThanOrEqual(2);

  // Events newest first, local time with UTC on hover.
  const events = serverPage.getByTestId('event-row');
  await expect(events.first()).toBeVisible({ timeout: 30_000 });
  const times = (await events.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-time') ?? ''))).filter(Boolean);
  expect(times.length).toBeGreaterThan(0);
  expect(times).toEqual([...times].sort((left, right) => Date.parse(right) - Date.parse(left)));
  await expect(events.first().locator('time')).toHaveAttribute('title', / UTC$/);
  await shot(page, '44-server-page');
});

test('a provider admin sees the agent carrying a server by name and version, and the gateway holding it', async ({ page, fleet }) => {
  const server = fleetServers(fleet, 'servers', () => true)[0]!;
  await logIn(page, fleet, 'admin');
  await serverAction(page, server.name, 'menu-server-page');
  const connection = page.locator(`[data-testid="server-page"][data-server-id="${server.id}"]`).getByTestId('server-connection');
  await expect(connection).toHaveAttribute('data-agent-state', 'online');
  // The agent reports its version at hello; the relay gives it, with the agent's name, to provider staff only.
  await expect(connection.getByTestId('connection-agent')).toContainText(/\S+ · version \S+ · online/);
  await expect(connection.getByTestId('connection-gateway')).toHaveText(`${fleet.relayUrl} · region e2e`);
  await expect(connection.getByTestId('connection-last-seen').locator('time')).toHaveAttribute('title', / UTC$/);
  await connection.scrollIntoViewIfNeeded();
  await shot(page, '46-server-page-agent-and-gateway');
});

test("a server's page names who is on its consoles, and nobody once they closed", async ({ page, fleet }) => {
  const server = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial)[0]!;
  await logIn(page, fleet);
  await openTextConsole(page, server, 'serial');
  await serverAction(page, server.name, 'menu-server-page');
  const holders = page.locator(`[data-testid="server-page"][data-server-id="${server.id}"]`).getByTestId('server-consoles');
  // The relay's list of the server's live legs: the display name, the console and the mode.
  await expect(holders).toContainText('operator (serial, control)');
  await holders.scrollIntoViewIfNeeded();
  await shot(page, '47-server-page-on-its-consoles');
  // Closing the console's tab ends its leg; the live feed says so, and the page reads the list again.
  await page.locator(`[data-testid="tab"][data-tab-id="serial:${server.id}"]`).getByRole('button', { name: /^Close / }).click();
  await expect(holders).toHaveText('nobody', { timeout: 15_000 });
});
