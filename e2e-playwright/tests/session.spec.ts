import type { Page } from '@playwright/test';
import { expect, fleetServers, logIn, openTextConsole, serverAction, shot, test } from '../support/test.js';

interface StoredUser {
  refresh_token?: string;
  expires_at?: number;
}

/** What oidc-client-ts keeps for the signed-in user (sessionStorage, `oidc.user:<authority>:<client>`). */
async function storedUsers(page: Page): Promise<StoredUser[]> {
  return page.evaluate(() =>
    Object.keys(sessionStorage)
      .filter((key) => key.startsWith('oidc.user:'))
      .map((key) => JSON.parse(sessionStorage.getItem(key)!) as StoredUser),
  );
}

test('stays signed in past the access token lifetime: the console renews with its refresh token', async ({ page, fleet }) => {
  // The page's clock, so a 15-minute token lifetime passes without waiting for it.
  await page.clock.install();
  await logIn(page, fleet);
  const [user] = await storedUsers(page);
  expect(user?.refresh_token, 'the OP gave the console a refresh token').toBeTruthy();

  const renewal = page.waitForRequest((request) => request.url().includes('/oidc/token') && (request.postData() ?? '').includes('grant_type=refresh_token'));
  await page.clock.fastForward('16:00');
  await renewal;
  await expect.poll(async () => (await storedUsers(page))[0]?.refresh_token).not.toBe(user!.refresh_token);

  // Still signed in, and the API answers with the renewed token.
  await page.getByLabel('Filter servers').fill(fleet.servers[0]!.name);
  await expect(page.locator('[data-testid="server-row"]', { hasText: fleet.servers[0]!.name }).first()).toBeVisible();
  await expect(page.getByTestId('username')).toHaveText('operator');
  await expect(page.getByText('Your session ended')).toHaveCount(0);
});

/** Signs out as a person does: the console's Sign out, then the OP's confirmation; back at the sign-in form. */
async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/interaction') || url.pathname.startsWith('/oidc'));
}

/** Everything the console keeps in the browser beyond the tab (localStorage), as one string. */
const keptInBrowser = (page: Page) => page.evaluate(() => JSON.stringify(Object.entries(localStorage)));

test('saved tabs belong to who saved them: signing out forgets them, the next user of another tenant sees none, and a layout comes back only to its own user', async ({ page, context, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with SOL', (entry) => entry.sol);
  const [other] = fleet.servers.filter((entry) => entry !== server);
  const tabs = page.getByTestId('tab');
  const onlyTab = async (name: string) => {
    await expect(tabs).toHaveCount(1);
    await expect(tabs.first()).toContainText(name);
  };

  // An operator of tenant demo opens a SOL console; the layout survives a reload, for them.
  await logIn(page, fleet, 'operator');
  await openTextConsole(page, server!, 'sol');
  await onlyTab(server!.name);
  await page.reload();
  await onlyTab(server!.name);

  // They sign out: nothing of their tabs is left in the browser, and the admin of tenant provider who signs in next sees no tab of theirs.
  await signOut(page);
  await logIn(page, fleet, 'admin');
  await expect(page.getByTestId('server-tree')).toBeVisible();
  await expect(tabs).toHaveCount(0);
  expect(await keptInBrowser(page)).not.toContain(server!.id);
  await shot(page, '03-next-user-no-tabs');

  // The admin opens a tab and leaves without signing out (the browser closes: its session cookies and tab storage go, localStorage stays).
  await serverAction(page, other!.name, 'menu-server-page');
  await onlyTab(other!.name);
  const leaveWithoutSigningOut = async () => {
    await page.evaluate(() => sessionStorage.clear());
    await context.clearCookies();
  };
  await leaveWithoutSigningOut();
  // The operator signs in at the same browser: the admin's saved tab is not theirs to see.
  await logIn(page, fleet, 'operator');
  await expect(page.getByTestId('server-tree')).toBeVisible();
  await expect(tabs).toHaveCount(0);
  // The admin comes back: their own tab is restored.
  await leaveWithoutSigningOut();
  await logIn(page, fleet, 'admin');
  await onlyTab(other!.name);
});
