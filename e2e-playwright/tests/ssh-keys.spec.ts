import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, logIn, shot, test } from '../support/test.js';

/** What Debian's ssh-keygen says a public key's fingerprint is: an opinion the relay's code had no part in. */
function sshKeygenFingerprint(directory: string, publicKey: string): string {
  const file = join(directory, `key-${Date.now()}.pub`);
  writeFileSync(file, `${publicKey}\n`);
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).split(' ')[1]!;
}

test('SSH keys: the host key fingerprint ssh-keygen computes, the known_hosts line, and a key added and removed', async ({ page, fleet }) => {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-e2e-ssh-'));
  try {
    const published = (await (await fetch(`${fleet.relayUrl}/v1/ssh/host-key`)).json()) as { fingerprint: string; publicKey: string; port: number };
    await logIn(page, fleet);
    await page.getByTestId('open-ssh-keys').click();
    const dialog = page.getByTestId('ssh-keys-dialog');
    await expect(dialog.getByTestId('ssh-host-key-fingerprint')).toHaveText(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const shown = (await dialog.getByTestId('ssh-host-key-fingerprint').textContent())!;
    expect(shown).toBe(sshKeygenFingerprint(directory, published.publicKey));
    const host = new URL(fleet.relayUrl).hostname;
    await expect(dialog.getByTestId('ssh-known-hosts')).toHaveText(`[${host}]:${published.port} ${published.publicKey}`);
    await expect(dialog.getByTestId('ssh-command')).toHaveText(`ssh -p ${published.port} SERVER@${host}`);

    // A key of the user's own, made by ssh-keygen, pasted in.
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e@laptop', '-f', join(directory, 'id_ed25519')]);
    const publicKey = readFileSync(join(directory, 'id_ed25519.pub'), 'utf8').trim();
    const fingerprint = sshKeygenFingerprint(directory, publicKey);
    await dialog.getByTestId('ssh-key-input').fill(publicKey);
    await dialog.getByTestId('ssh-key-add').click();
    const row = dialog.locator(`[data-testid="ssh-key-row"][data-fingerprint="${fingerprint}"]`);
    await expect(row).toContainText('ssh-ed25519');
    await expect(row).toContainText(fingerprint);
    await shot(page, '30-ssh-keys');
    // The same key again is refused with the relay's reason.
    await dialog.getByTestId('ssh-key-input').fill(publicKey);
    await dialog.getByTestId('ssh-key-add').click();
    await expect(dialog.getByRole('alert')).toContainText('CONFLICT');
    await row.getByRole('button', { name: 'Remove' }).click();
    await expect(row).toHaveCount(0);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
