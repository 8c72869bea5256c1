import type { Page } from '@playwright/test';
import { consoleText, expect, fleetServers, freezeAgent, killAndRestartAgent, killAndRestartRelay, logIn, openTextConsole, serverAction, shot, test, thawAgent, typeLine } from '../support/test.js';

const stateOf = (page: Page, serverId: string) =>
  page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${serverId}"]) [data-testid="console-state"]`);

/** Records every value an attribute of the element takes, in the page (a state can last shorter than a poll). */
async function recordAttribute(page: Page, selector: string, attribute: string, key: string): Promise<void> {
  await page.evaluate(
    ({ selector, attribute, key }) => {
      const element = document.querySelector(selector)!;
      const seen: string[] = [];
      (window as unknown as Record<string, string[]>)[key] = seen;
      new MutationObserver(() => seen.push(element.getAttribute(attribute) ?? '')).observe(element, { attributes: true, attributeFilter: [attribute] });
    },
    { selector, attribute, key },
  );
}

const recorded = (page: Page, key: string) => page.evaluate((name) => (window as unknown as Record<string, string[]>)[name] ?? [], key);

test('kill -9 the relay: live updates come back by themselves, without a reload', async ({ page, fleet }) => {
  await logIn(page, fleet);
  const feed = page.getByTestId('feed-mode');
  await expect(feed).toHaveAttribute('data-mode', 'live');
  // A reload would lose this mark: it proves the page recovered in place.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  await recordAttribute(page, '[data-testid="feed-mode"]', 'data-mode', 'feedModes');
  await killAndRestartRelay();
  await expect(feed).toHaveAttribute('data-mode', 'live', { timeout: 60_000 });
  const modes = await recorded(page, 'feedModes');
  // It left "live" while the relay was down (polling, or the relay unreachable), then came back.
  expect(modes.some((mode) => mode !== 'live')).toBe(true);
  expect(modes.at(-1)).toBe('live');
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await expect(page.getByTestId('server-row').first()).toBeVisible();
});

test('a frozen agent: the console says reconnecting and refuses input, the sensors view says offline; both clear when it is back', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with a serial console and sensors', (entry) => entry.serial);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');
  const before = `before-${Date.now().toString(36)}`;
  await typeLine(page, server!.id, `echo ${before}`);
  await expect(consoleText(page, server!.id)).toContainText(before);
  await serverAction(page, server!.name, 'menu-sensors');
  const sensors = page.getByTestId('sensors-view');
  await expect(sensors.locator('tbody tr').first()).toBeVisible();
  await page.getByRole('button', { name: 'Side by side' }).click();
  await expect(stateOf(page, server!.id)).toBeVisible();

  const frozen = `frozen-${Date.now().toString(36)}`;
  await freezeAgent();
  try {
    // The relay misses the agent's heartbeats, takes it offline and tells the console its path is down.
    await expect(stateOf(page, server!.id)).toHaveAttribute('data-state', 'reconnecting', { timeout: 30_000 });
    await expect(page.getByTestId('console-overlay')).toContainText('the path to the BMC is down');
    // The overlay covers the pane; the keys still reach the terminal that has the focus.
    await page.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"] .xterm-helper-textarea`).focus();
    await page.keyboard.type(`echo ${frozen}\n`);
    await expect(page.getByTestId('input-not-sent')).toContainText('not connected — input not sent');
    await expect(page.getByTestId('agent-offline-notice')).toBeVisible();
    // Reading now fails, and says why.
    await sensors.page().locator('.console-toolbar', { hasText: 'Sensors' }).getByRole('button', { name: 'Refresh' }).click();
    await expect(page.getByTestId('data-view-error')).toBeVisible({ timeout: 30_000 });
    await shot(page, '30-frozen-agent');
  } finally {
    await thawAgent();
  }
  // Back: the console streams again and the sensors view read again by itself; no error left.
  await expect(stateOf(page, server!.id)).toHaveAttribute('data-state', 'streaming', { timeout: 30_000 });
  await expect(page.getByTestId('agent-offline-notice')).toHaveCount(0, { timeout: 30_000 });
  await expect(page.getByTestId('data-view-error')).toHaveCount(0, { timeout: 30_000 });
  await expect(sensors.locator('tbody tr').first()).toBeVisible();
  const after = `after-${Date.now().toString(36)}`;
  await typeLine(page, server!.id, `echo ${after}`);
  await expect(consoleText(page, server!.id)).toContainText(after);
  // What was typed while the agent was frozen never reached the BMC.
  expect(await consoleText(page, server!.id).textContent()).not.toContain(frozen);
  await shot(page, '31-agent-back');
});

test('after an outage that ended the sessions, one click reconnects every console', async ({ page, fleet }) => {
  const servers = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial, 2).slice(0, 2);
  await logIn(page, fleet);
  for (const server of servers) await openTextConsole(page, server, 'serial');
  await page.getByRole('button', { name: 'Side by side' }).click();
  for (const server of servers) await expect(stateOf(page, server.id)).toHaveAttribute('data-state', 'streaming');
  await expect(page.getByTestId('reconnect-all')).toHaveCount(0);

  // A restarted agent has none of the old sessions: they end.
  await killAndRestartAgent();
  for (const server of servers) await expect(stateOf(page, server.id)).toHaveAttribute('data-state', /closed|failed/, { timeout: 60_000 });
  const reconnect = page.getByTestId('reconnect-all');
  await expect(reconnect).toHaveText('2 consoles ended — Reconnect all');
  await shot(page, '32-reconnect-all');
  await reconnect.click();
  for (const server of servers) await expect(stateOf(page, server.id)).toHaveAttribute('data-state', 'streaming', { timeout: 30_000 });
  await expect(reconnect).toHaveCount(0);
  for (const server of servers) {
    const marker = `again-${Date.now().toString(36)}`;
    await typeLine(page, server.id, `echo ${marker}`);
    await expect(consoleText(page, server.id)).toContainText(marker);
  }
});
