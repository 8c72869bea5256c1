import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';

/** Debian's Chromium (the Playwright download is not used: no internet here). */
export const CHROMIUM = '/usr/bin/chromium';
/** The web console a relay serves when its `webRoot` points here (scripts/test.sh builds it before the tests). */
export const WEB_CONSOLE_ROOT = fileURLToPath(new URL('../../desktop/out/web', import.meta.url));

/** Chromium, headless, after checking the console is built (a clear failure, never a skip). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(`${WEB_CONSOLE_ROOT}/index.html`)) throw new Error(`${WEB_CONSOLE_ROOT}/index.html is missing: build the web console (npm run build:web -w @lightsout/desktop, or scripts/test.sh build)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Opens the console at `relayUrl` and signs in on the embedded OP's form, as a person would. */
export async function signIn(page: Page, relayUrl: string, username: string, password: string): Promise<void> {
  await page.goto(relayUrl);
  await page.waitForURL((url) => url.pathname.startsWith('/oidc') || url.pathname.startsWith('/interaction'));
  await page.locator('input[name="username"], input[name="login"]').first().fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
  await page.getByTestId('username').waitFor({ timeout: 60_000 });
}
