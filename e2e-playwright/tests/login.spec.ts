import { expect, logIn, shot, test } from '../support/test.js';

test('logs in through the embedded OP and lands on the console', async ({ page, stack }) => {
  // Opening the console goes straight to the sign-in form — no page with only a Sign in button before it —
  // and the form wears the console's name and logo.
  const consolePages: string[] = [];
  page.on('framenavigated', (frame) => frame === page.mainFrame() && consolePages.push(new URL(frame.url()).pathname));
  await page.goto(stack.relayUrl);
  await page.waitForURL((url) => url.pathname.startsWith('/interaction'));
  await expect(page.locator('input[name="username"]')).toBeVisible();
  await expect(page.locator('.brand')).toHaveText('Lightsout');
  await expect(page.locator('.brand svg')).toBeVisible();
  expect(await page.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor)).toBe('rgb(26, 30, 35)');
  expect(consolePages.filter((path) => !path.startsWith('/interaction') && !path.startsWith('/oidc'))).toEqual(['/']);
  await expect(page.getByTestId('login-button')).toHaveCount(0);
  await shot(page, '01-login');
  await logIn(page, stack);
  // The address bar no longer carries the authorization code.
  expect(new URL(page.url()).search).toBe('');
  await expect(page.getByTestId('server-tree')).toBeVisible();
  await expect(page.getByTestId('feed-mode')).toHaveAttribute('data-mode', /live|polling/);
  await shot(page, '02-console-after-login');
});
