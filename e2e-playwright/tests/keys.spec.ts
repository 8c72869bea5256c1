import type { Page } from '@playwright/test';
import { consoleText, expect, expectVncScreen, fleetServers, logIn, openTextConsole, serverAction, shot, test } from '../support/test.js';

/** The pane of one console: its toolbar, its keys-sent notice and its screen. */
const toolbarOf = (page: Page, testId: string, serverId: string) => page.locator(`[data-testid="pane"]:has([data-testid="${testId}"][data-server-id="${serverId}"])`);

async function defineMacro(page: Page, toolbar: ReturnType<typeof toolbarOf>, name: string, keys: string): Promise<void> {
  await toolbar.getByTestId('macro-menu').selectOption({ label: 'Edit macros…' });
  const dialog = page.getByTestId('macros-dialog');
  await expect(dialog).toBeVisible();
  const row = dialog.getByTestId('macro-row').last();
  await row.getByLabel('Macro name').fill(name);
  await row.getByLabel('Macro keys').fill(keys);
  await dialog.getByTestId('macros-save').click();
  await expect(dialog).toHaveCount(0);
}

test('a key macro with a delay: its keys reach the BMC in order, the wait is kept, the toolbar says it was sent; it is still there after a reload', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');
  const toolbar = toolbarOf(page, 'sol-console', server!.id);
  const id = Date.now().toString(36);

  // A malformed macro cannot be saved, and the editor says why.
  await toolbar.getByTestId('macro-menu').selectOption({ label: 'Edit macros…' });
  const dialog = page.getByTestId('macros-dialog');
  await dialog.getByLabel('Macro name').fill('broken');
  await dialog.getByLabel('Macro keys').fill('{F13}');
  await expect(dialog).toContainText('{F13} is not a key');
  await expect(dialog.getByTestId('macros-save')).toBeDisabled();
  await dialog.getByLabel('Macro keys').fill(`echo one-${id}{Enter}{wait 2000}echo two-${id}{Enter}`);
  await dialog.getByLabel('Macro name').fill('two lines');
  await shot(page, '33-macro-editor');
  await dialog.getByTestId('macros-save').click();

  await toolbar.getByTestId('macro-menu').selectOption({ label: 'two lines' });
  const notice = toolbar.getByTestId('keys-sent');
  // While the macro waits, the second line has not been sent: the toolbar and the console read in one moment in the page.
  let snapshot = { said: '', text: '' };
  await expect
    .poll(
      async () => {
        snapshot = await page.evaluate((serverId) => {
          const pane = `[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${serverId}"])`;
          return {
            said: document.querySelector(`${pane} [data-testid="keys-sent"]`)?.textContent ?? '',
            text: document.querySelector(`${pane} .xterm-rows`)?.textContent ?? '',
          };
        }, server!.id);
        return snapshot.said.includes('waiting 2000 ms');
      },
      { timeout: 15_000, intervals: [50] },
    )
    .toBe(true);
  expect(snapshot.text).not.toContain(`two-${id}`);
  await shot(page, '34-macro-waiting');
  await expect(notice).toHaveText('✓ Macro “two lines” sent (5 steps)', { timeout: 15_000 });
  await expect(notice).toHaveAttribute('data-ok', 'true');
  await expect(notice).toBeVisible();
  // Both commands ran (echoed line and output line each), in the order of the macro.
  await expect.poll(async () => ((await consoleText(page, server!.id).textContent()) ?? '').split(`two-${id}`).length - 1).toBeGreaterThanOrEqual(2);
  const text = (await consoleText(page, server!.id).textContent()) ?? '';
  expect(text.indexOf(`echo one-${id}`)).toBeLessThan(text.indexOf(`echo two-${id}`));
  await shot(page, '35-macro-sent');

  await page.reload();
  await expect(toolbar.getByTestId('macro-menu').locator('option', { hasText: 'two lines' })).toHaveCount(1);
});

test('Ctrl-Alt-Del and a macro on a VNC console: the toolbar confirms, and the macro\'s keys reach the host', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with VNC and a serial console', (entry) => entry.vnc && entry.serial);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');
  await serverAction(page, server!.name, 'menu-open-vnc');
  await page.getByRole('button', { name: 'Side by side' }).click();
  await expectVncScreen(page, server!.id);
  const toolbar = toolbarOf(page, 'vnc-console', server!.id);
  await expect(toolbar.getByTestId('console-state')).toHaveAttribute('data-state', 'streaming');

  await toolbar.getByTestId('send-ctrl-alt-del').click();
  await expect(toolbar.getByTestId('keys-sent')).toHaveText('✓ Ctrl-Alt-Del sent');
  await expect(toolbar.getByTestId('keys-sent')).toBeVisible();
  await shot(page, '36-ctrl-alt-del-sent');

  // The simulated host reads the KVM keyboard like its serial line: the macro typed there shows on the serial console.
  const id = Date.now().toString(36);
  await defineMacro(page, toolbar, 'hello', `{Enter}echo vnc-${id}{Enter}`);
  await toolbar.getByTestId('macro-menu').selectOption({ label: 'hello' });
  await expect(toolbar.getByTestId('keys-sent')).toHaveText('✓ Macro “hello” sent (3 steps)');
  await expect.poll(async () => ((await consoleText(page, server!.id).textContent()) ?? '').split(`vnc-${id}`).length - 1, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);

  // View only: nothing goes out, and the toolbar says so.
  await toolbar.getByLabel('View only').check();
  await expect(toolbar.getByTestId('send-ctrl-alt-del')).toBeDisabled();
});

test('the theme: light or dark beside the OS default, kept across a reload', async ({ page, fleet }) => {
  await logIn(page, fleet);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const choice = page.getByTestId('theme-choice');
  // The suite's browser says dark.
  await expect(choice).toHaveValue('system');
  expect(await background()).toBe('rgb(26, 30, 35)');
  await choice.selectOption('light');
  await expect.poll(background).toBe('rgb(246, 247, 249)');
  await shot(page, '37-theme-light');
  await page.reload();
  await expect(page.getByTestId('username')).toBeVisible();
  await expect(choice).toHaveValue('light');
  expect(await background()).toBe('rgb(246, 247, 249)');
  // The OS default again: the OS (dark here) decides.
  await choice.selectOption('system');
  await expect.poll(background).toBe('rgb(26, 30, 35)');
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(background).toBe('rgb(246, 247, 249)');
});
