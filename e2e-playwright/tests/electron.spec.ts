import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { _electron as electron } from '@playwright/test';
import { expect, test } from '../support/test.js';

// The desktop app itself, through Playwright's Electron support. The Electron
// binary is a separate download (ELECTRON_SKIP_BINARY_DOWNLOAD on CI runners
// without internet access beyond npm), so this spec is its own Playwright
// project, run by `scripts/test.sh electron` where the binary exists; asked
// for without it, it fails.
const desktop = resolve(import.meta.dirname, '../../desktop');

function electronBinary(): string | null {
  const electronPackage = resolve(import.meta.dirname, '../../node_modules/electron');
  const pathFile = join(electronPackage, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = join(electronPackage, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}

test('desktop app: sandboxed renderer with the preload API only, navigation locked', async ({ stack }) => {
  const binary = electronBinary();
  if (!binary) throw new Error('no Electron binary in node_modules/electron/dist: run `npm run electron:fetch -w @lightsout/desktop` where the download is reachable');
  if (!existsSync(join(desktop, 'out/main/index.js'))) throw new Error('build the desktop app first: npm run build -w @lightsout/desktop');
  const app = await electron.launch({ executablePath: binary, args: [join(desktop, 'out/main/index.js'), '--no-sandbox'], cwd: desktop });
  try {
    const page = await app.firstWindow();
    await expect(page.getByTestId('login-button')).toBeVisible();
    const surface = await page.evaluate(() => ({
      preload: typeof (window as unknown as { lightsout?: { auth?: { login?: unknown } } }).lightsout?.auth?.login,
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
      csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '',
    }));
    expect(surface).toMatchObject({ preload: 'function', require: 'undefined', process: 'undefined' });
    expect(surface.csp).toContain("script-src 'self'");
    const before = page.url();
    await page.evaluate(() => {
      window.location.href = 'https://example.invalid/';
    });
    await expect.poll(() => page.url()).toBe(before);
    await page.getByRole('textbox').fill(stack.relayUrl);
  } finally {
    await app.close();
  }
});
