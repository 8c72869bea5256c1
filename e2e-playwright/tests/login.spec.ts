import { expect, logIn, shot, test } from '../support/test.js';

test('logs in through the embedded OP and lands on the console', async ({ page, stack }) => {
  await page.goto(stack.relayUrl);
  await expect(page.getByTestId('login-button')).toBeVisible();
  await shot(page, '01-login');
  await logIn(page, stack);
  // The address bar no longer carries the authorization code.
  expect(new URL(page.url()).search).toBe('');
  await expect(page.getByTestId('server-tree')).toBeVisible();
  await expect(page.getByTestId('feed-mode')).toHaveAttribute('data-mode', /live|polling/);
  await shot(page, '02-console-after-login');
});
