import type { Page } from '@playwright/test';
import { expect, findServer, killAndRestartRelay, logIn, serverAction, shot, test } from '../support/test.js';

/** The OP's sign-in form, in whatever window shows it, and its consent step when it shows one. */
async function signInAt(window: Page, password: string): Promise<void> {
  await window.waitForURL((url) => url.pathname.startsWith('/oidc') || url.pathname.startsWith('/interaction'));
  await window.locator('input[name="username"], input[name="login"]').first().fill('operator');
  await window.locator('input[name="password"]').fill(password);
  await window.locator('button[type="submit"], input[type="submit"]').first().click();
  const consent = window.locator('button[type="submit"]:has-text("Continue"), button[type="submit"]:has-text("Allow")');
  await Promise.race([window.waitForEvent('close'), consent.first().waitFor().then(() => consent.first().click())]).catch(() => undefined);
}

test('a power cycle past the sign-in window asks in plain words, signs in again in a popup, then runs, and the page never leaves', async ({ page, fleet }) => {
  // The sign-in window at its shortest (30 s) so that a sign-in grows too old within the test.
  test.setTimeout(240_000);
  await killAndRestartRelay({ stepUpMaxAgeSeconds: 30 });
  try {
    const server = fleet.servers[0]!;
    await logIn(page, fleet);
    const signedInAt = Date.now();
    const row = await findServer(page, server.name);
    await expect(row.getByTestId('agent-badge')).toHaveAttribute('data-agent', 'online', { timeout: 30_000 });
    // A marker in this document: a redirect to the sign-in page and back would lose it.
    await page.evaluate(() => ((window as unknown as { stepUpMarker: string }).stepUpMarker = 'same page'));
    // What is being tested is a sign-in older than the relay's window: let it age past 30 s.
    await page.waitForTimeout(Math.max(0, signedInAt + 31_000 - Date.now()));

    await serverAction(page, server.name, 'menu-power-cycle');
    await page.getByTestId('confirm-button').click();
    await expect(page.getByTestId('step-up-dialog')).toBeVisible();
    await expect(page.getByTestId('step-up-reason')).toHaveText('Powering a server off, cycling or resetting it needs a sign-in from the last 30 seconds.');
    await shot(page, '40-step-up-prompt');

    const popupOpened = page.waitForEvent('popup');
    await page.getByTestId('step-up-button').click();
    const popup = await popupOpened;
    await signInAt(popup, fleet.password);
    await expect.poll(() => popup.isClosed(), { timeout: 30_000 }).toBe(true);

    // The action that asked ran by itself once the popup was done.
    await expect(page.getByTestId('toast').filter({ hasText: server.id })).toContainText(/Power cycle (done|accepted)/, { timeout: 30_000 });
    await expect(page.getByTestId('step-up-dialog')).toHaveCount(0);
    expect(await page.evaluate(() => (window as unknown as { stepUpMarker?: string }).stepUpMarker)).toBe('same page');
    await shot(page, '41-step-up-done');
  } finally {
    await killAndRestartRelay();
  }
});
