import { consoleText, expect, findServer, fleetServers, logIn, openTextConsole, serverAction, shot, test } from '../support/test.js';

test('drop an ISO on a server: upload reaches 100%, then it mounts and the server boots from the virtual CD', async ({ page, fleet }) => {
  const server = fleetServers(fleet, 'servers with virtual media and a serial console', (entry) => entry.media && entry.serial).at(-1)!;
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');
  const row = await findServer(page, server!.name);

  // A 3 MiB image with the ISO 9660 primary volume descriptor magic at sector 16, made in the page.
  const dataTransfer = await page.evaluateHandle(() => {
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 31) & 0xff;
    bytes.set([0x01, 0x43, 0x44, 0x30, 0x30, 0x31, 0x01], 16 * 2048);
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], 'e2e-install.iso', { type: 'application/x-iso9660-image' }));
    return transfer;
  });
  await row.dispatchEvent('dragover', { dataTransfer });
  await row.dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('mount-dialog')).toBeVisible();
  // It can reset the server: the dialog starts on Cancel, so Enter alone never boots from the CD.
  await expect(page.getByTestId('mount-dialog').getByRole('button', { name: 'Cancel' })).toBeFocused();
  await shot(page, '13-media-mount-dialog');
  await page.getByTestId('mount-boot-button').click();

  const upload = page.getByTestId('upload').filter({ hasText: 'e2e-install.iso' });
  await expect(upload.getByTestId('upload-progress')).toHaveAttribute('data-percent', '100', { timeout: 30_000 });
  await shot(page, '14-media-uploaded');
  await expect(upload).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  await expect(consoleText(page, server!.id)).toContainText(/virtual (CD|media)|CD-ROM|from CD/i, { timeout: 60_000 });
  await shot(page, '15-media-booted-from-cd');
  // The tree's badges, pushed over /v1/events: the mounted image and the open console.
  await expect(row.getByTestId('media-badge')).toHaveAttribute('data-filename', 'e2e-install.iso');
  await expect(row.getByTestId('sessions-badge')).toBeVisible();
  await shot(page, '15b-tree-badges');

  // Eject from the actions menu; the relay answers with the new media state.
  await serverAction(page, server!.name, 'menu-eject');
  // The toast says what the eject did: the image it took out of the virtual CD.
  await expect(page.locator('[data-testid="toast"]:not(.error)').filter({ hasText: `${server!.id}: ejected e2e-install.iso` })).toBeVisible();
  await expect(row.getByTestId('media-badge')).toHaveCount(0);
});
