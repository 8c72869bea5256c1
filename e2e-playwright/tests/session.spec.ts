import type { Page } from '@playwright/test';
import { expect, logIn, test } from '../support/test.js';

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
