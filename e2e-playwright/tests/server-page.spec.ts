import { expect, fleetServers, logIn, serverAction, shot, test } from '../support/test.js';

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
