import { chromium } from '@playwright/test';

/**
 * An admin access token, obtained the way a person gets one: the web console's
 * login through the embedded OP in Chromium; the token is then read from the
 * console's session storage (oidc-client-ts keeps the user there).
 */
export async function adminAccessToken(relayUrl: string, password: string): Promise<string> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.goto(relayUrl);
    // The console goes straight on to the OP's sign-in form (its own card shows only to say why a session ended).
    await page.waitForURL((url) => url.pathname.startsWith('/oidc') || url.pathname.startsWith('/interaction'));
    await page.locator('input[name="username"], input[name="login"]').first().fill('admin');
    await page.locator('input[name="password"]').fill(password);
    await page.locator('button[type="submit"], input[type="submit"]').first().click();
    await page.getByTestId('username').waitFor({ timeout: 30_000 });
    const token = await page.evaluate(() => {
      for (let index = 0; index < sessionStorage.length; index++) {
        const key = sessionStorage.key(index)!;
        if (key.startsWith('oidc.user:')) return (JSON.parse(sessionStorage.getItem(key)!) as { access_token: string }).access_token;
      }
      return null;
    });
    if (!token) throw new Error('logged in as admin but found no token in the console session');
    return token;
  } finally {
    await browser.close();
  }
}
