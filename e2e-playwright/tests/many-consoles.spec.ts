import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, fleetServers, logIn, openTextConsole, serverAction, shot, test } from '../support/test.js';

// 16 open consoles (8 VNC + 8 SOL) in one page; keystroke echo latency measured
// in the page: from the key event to the echoed character in the terminal's DOM.
test('16 consoles (8 VNC + 8 SOL) stay responsive: keystroke echo p99', async ({ page, fleet }) => {
  test.setTimeout(180_000);
  const servers = fleetServers(fleet, 'servers with SOL and VNC', (server) => server.sol && server.vnc, 8).slice(0, 8);
  await logIn(page, fleet);
  for (const server of servers) {
    await serverAction(page, server.name, 'menu-open-vnc');
    await openTextConsole(page, server, 'sol');
  }
  await expect(page.getByTestId('tab')).toHaveCount(16);
  await page.getByRole('button', { name: '2×2 grid' }).click();
  const target = servers[servers.length - 1]!;
  await page.locator(`[data-testid="tab"][data-tab-id="sol:${target.id}"]`).click();
  await expect(page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${target.id}"]) [data-testid="console-state"]`)).toHaveAttribute('data-state', 'streaming');
  await page.locator(`[data-testid="sol-console"][data-server-id="${target.id}"] .xterm`).click();

  const samples: number[] = [];
  for (let index = 0; index < 40; index++) {
    const character = String.fromCharCode(97 + (index % 26));
    // Arm an observer for the next change of the terminal rows, and only once it is armed press
    // the key: an echo that came back before the observer was there would never be seen.
    await page.evaluate((serverId) => {
      const rows = document.querySelector(`[data-testid="sol-console"][data-server-id="${serverId}"] .xterm-rows`)!;
      const marks = window as unknown as { keyAt: number; echo: Promise<number> };
      marks.keyAt = performance.now();
      // The clock starts when the page receives the key, not when the test process sends it.
      window.addEventListener('keydown', () => (marks.keyAt = performance.now()), { capture: true, once: true });
      marks.echo = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
        const observer = new MutationObserver(() => {
          observer.disconnect();
          clearTimeout(timer);
          resolve(performance.now() - marks.keyAt);
        });
        observer.observe(rows, { childList: true, subtree: true, characterData: true });
      });
    }, target.id);
    await page.keyboard.press(character);
    samples.push(await page.evaluate(() => (window as unknown as { echo: Promise<number> }).echo));
  }
  await page.keyboard.press('Enter');
  await shot(page, '16-sixteen-consoles-grid');
  samples.sort((left, right) => left - right);
  const percentile = (fraction: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * fraction))]!;
  const result = { consoles: 16, keystrokes: samples.length, echoMs: { p50: Math.round(percentile(0.5) * 10) / 10, p99: Math.round(percentile(0.99) * 10) / 10, max: Math.round(samples[samples.length - 1]! * 10) / 10 } };
  console.log(`[perf] ${JSON.stringify(result)}`);
  writeFileSync(join(import.meta.dirname, '../test-results/perf-consoles.json'), JSON.stringify(result, null, 2));
  // Goal 50 ms on an idle machine (docs/benchmarks.md); this bound guards regressions on a shared runner.
  expect(result.echoMs.p99).toBeLessThan(250);
});
