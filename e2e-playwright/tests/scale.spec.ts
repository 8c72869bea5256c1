import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, logIn, shot, test } from '../support/test.js';

// Renderer performance with a 10,000-server inventory. The relay is real (login,
// token); only the /v1/servers answer is replaced by a generated fleet, because
// the point is the console's tree, not 10,000 simulated BMCs on a 2-core runner.
const SERVER_COUNT = 10_000;

function fleet(count: number) {
  return Array.from({ length: count }, (_, index) => ({
    id: `node-${String(index).padStart(5, '0')}`,
    name: `node-${String(index).padStart(5, '0')}`,
    tenant: 'demo',
    region: `region-${index % 3}`,
    datacenter: `dc-${index % 7}`,
    rack: `rack-${String(index % 97).padStart(2, '0')}`,
    labels: { role: index % 5 === 0 ? 'database' : 'web' },
    endpoints: { ipmi: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}:623` },
    capabilities: ['power', 'boot', 'sol'],
    agentId: 'agent-1',
    agent: index % 50 === 0 ? 'offline' : 'online',
    power: index % 4 === 0 ? 'off' : 'on',
    stateAt: null,
  }));
}

test('10,000 servers: cold start to usable tree, smooth scroll, fast filter', async ({ page, stack }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await logIn(page, stack);
  const servers = fleet(SERVER_COUNT);
  const body = JSON.stringify({ servers });
  await page.route('**/v1/servers', (route) => route.fulfill({ status: 200, contentType: 'application/json', body }));
  // The live feed answers with the same generated fleet (its snapshot would otherwise replace it).
  await page.routeWebSocket('**/v1/events', (socket) => socket.send(JSON.stringify({ type: 'servers', servers })));
  await page.addInitScript(() => {
    const marks = window as unknown as { firstRowAt?: number };
    new MutationObserver((_records, observer) => {
      if (document.querySelector('[data-testid="server-row"]')) {
        marks.firstRowAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });

  await page.reload();
  await expect(page.getByTestId('server-row').first()).toBeVisible();
  const coldStartMs = await page.evaluate(() => (window as unknown as { firstRowAt: number }).firstRowAt);
  await expect(page.getByTestId('selection-bar')).toContainText(`of ${SERVER_COUNT.toLocaleString('en-US')} servers`);
  const mountedRows = await page.locator('.tree-row').count();

  // Scroll the whole tree in 40 steps, one per animation frame, and record frame intervals.
  const frames = await page.evaluate(async () => {
    const list = document.querySelector('.tree-list') as HTMLElement;
    const intervals: number[] = [];
    let last = performance.now();
    const steps = 40;
    for (let step = 1; step <= steps; step++) {
      list.scrollTop = (list.scrollHeight * step) / steps;
      await new Promise(requestAnimationFrame);
      const now = performance.now();
      intervals.push(now - last);
      last = now;
    }
    intervals.sort((left, right) => left - right);
    return { p50: intervals[Math.floor(intervals.length * 0.5)]!, p95: intervals[Math.floor(intervals.length * 0.95)]!, max: intervals[intervals.length - 1]! };
  });
  await shot(page, '10-scale-10000-scrolled');

  // Type-to-filter: from the input event to the frame showing the filtered tree, measured in the page.
  const filterMs = await page.evaluate(async () => {
    const input = document.querySelector<HTMLInputElement>('input[aria-label="Filter servers"]')!;
    const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    const started = performance.now();
    setValue.call(input, 'node-0999');
    input.dispatchEvent(new Event('input', { bubbles: true }));
    for (let frame = 0; frame < 600; frame++) {
      await new Promise(requestAnimationFrame);
      if (document.querySelectorAll('[data-testid="server-row"]').length === 10) return performance.now() - started;
    }
    return Number.POSITIVE_INFINITY;
  });
  await expect(page.getByTestId('server-row')).toHaveCount(10); // node-09990 … node-09999
  await shot(page, '11-scale-filtered');

  const result = { servers: SERVER_COUNT, coldStartMs: Math.round(coldStartMs), mountedRows, scrollFrameMs: frames, filterMs: Math.round(filterMs) };
  console.log(`[perf] ${JSON.stringify(result)}`);
  writeFileSync(join(import.meta.dirname, '../test-results/perf-tree.json'), JSON.stringify(result, null, 2));
  expect(mountedRows).toBeLessThan(200); // virtualized: only the visible window is in the DOM
  // The goal is 2 s on an idle machine (docs/benchmarks.md); the bound here guards regressions on a shared CI runner.
  expect(coldStartMs).toBeLessThan(8000);
  expect(filterMs).toBeLessThan(1000);
});
