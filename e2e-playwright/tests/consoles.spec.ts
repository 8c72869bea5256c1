import { consoleText, expect, expectVncScreen, fleetServers, killAndRestartRelay, logIn, openTextConsole, serverAction, shot, test, typeLine } from '../support/test.js';

for (const kind of ['serial', 'sol'] as const) {
  test(`${kind.toUpperCase()} tab: type and see the echo`, async ({ page, fleet }) => {
    const [server] = fleetServers(fleet, `servers with ${kind}`, (entry) => entry[kind]);
    await logIn(page, fleet);
    await openTextConsole(page, server!, kind);
    const marker = `lightsout-${Date.now().toString(36)}`;
    await typeLine(page, server!.id, `echo ${marker}`);
    // The command line echoed back, then its output on a line of its own.
    await expect(consoleText(page, server!.id)).toContainText(`echo ${marker}`);
    await expect.poll(async () => ((await consoleText(page, server!.id).textContent()) ?? '').split(marker).length - 1).toBeGreaterThanOrEqual(2);
    await shot(page, `07-${kind}-echo`);
  });
}

test('VNC tab: the simulated screen arrives (pixel check)', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with VNC', (entry) => entry.vnc);
  await logIn(page, fleet);
  await serverAction(page, server!.name, 'menu-open-vnc');
  await expectVncScreen(page, server!.id);
  await shot(page, '08-vnc');
});

test('split: two consoles side by side', async ({ page, fleet }) => {
  const [sol] = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial);
  const vnc = fleet.servers.find((entry) => entry.vnc && entry !== sol) ?? fleetServers(fleet, 'servers with VNC', (entry) => entry.vnc)[0];
  await logIn(page, fleet);
  await openTextConsole(page, sol!, 'serial');
  await serverAction(page, vnc!.name, 'menu-open-vnc');
  await page.getByRole('button', { name: 'Side by side' }).click();
  await expect(page.getByTestId('panes')).toHaveAttribute('data-split', 'horizontal');
  await expect(page.locator('[data-testid="pane"][data-pane="0"]')).toBeVisible();
  await expect(page.locator('[data-testid="pane"][data-pane="1"]')).toBeVisible();
  await expect(page.locator(`[data-testid="sol-console"][data-server-id="${sol!.id}"]`)).toBeVisible();
  await expect(page.locator(`[data-testid="vnc-console"][data-server-id="${vnc!.id}"]`)).toBeVisible();
  await expectVncScreen(page, vnc!.id);
  await typeLine(page, sol!.id, 'uname -a');
  await expect(consoleText(page, sol!.id)).toContainText('uname -a');
  await shot(page, '09-split');
  // The layout comes back after a reload (persisted).
  await page.reload();
  await expect(page.getByTestId('panes')).toHaveAttribute('data-split', 'horizontal');
  await expect(page.getByTestId('tab')).toHaveCount(2);
});

test('grid: Tab and Shift+Tab go through the panes in the order they are seen, not the order of the tab strip', async ({ page, fleet }) => {
  const servers = fleetServers(fleet, 'servers', () => true, 4).slice(0, 4);
  await logIn(page, fleet);
  for (const server of servers) await serverAction(page, server.name, 'menu-server-page');
  await page.getByRole('button', { name: '2×2 grid' }).click();
  await expect(page.getByTestId('panes')).toHaveAttribute('data-split', 'grid');
  // The tab focused when splitting (the last opened) goes top left: first on screen, last in the document.
  const panesInDocumentOrder = await page.locator('[data-testid="panes"] > [data-pane]').evaluateAll((panes) => panes.map((pane) => Number((pane as HTMLElement).dataset['pane'])).filter((pane) => pane >= 0));
  expect(panesInDocumentOrder).not.toEqual([0, 1, 2, 3]);
  for (const pane of [0, 1, 2, 3]) await expect(page.locator(`[data-testid="pane"][data-pane="${pane}"] [data-testid="server-page"]`)).toBeVisible();
  await shot(page, '10-grid-tab-order');

  /** Presses `key` until focus leaves the panes; the panes focus went through, each once per stay. */
  const walk = async (key: 'Tab' | 'Shift+Tab') => {
    const visited: number[] = [];
    for (let presses = 0; presses < 400; presses += 1) {
      const pane = await page.evaluate(() => {
        const holder = document.activeElement?.closest('[data-testid="panes"] > [data-pane]') as HTMLElement | null | undefined;
        return holder ? Number(holder.dataset['pane']) : null;
      });
      if (pane === null) return visited;
      if (visited.at(-1) !== pane) visited.push(pane);
      await page.keyboard.press(key);
    }
    throw new Error(`focus did not leave the panes after 400 presses of ${key}: ${visited.join(',')}`);
  };
  await page.locator('[data-testid="pane"][data-pane="0"] button').first().focus();
  expect(await walk('Tab')).toEqual([0, 1, 2, 3]);
  await page.locator('[data-testid="pane"][data-pane="3"] button').last().focus();
  expect(await walk('Shift+Tab')).toEqual([3, 2, 1, 0]);
});

test('kill -9 the relay: the console shows reconnecting, then resumes without losing output', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');
  const state = page.getByTestId('console-state');
  const before = `before-${Date.now().toString(36)}`;
  await typeLine(page, server!.id, `echo ${before}`);
  await expect(consoleText(page, server!.id)).toContainText(before);

  // Record every state the console goes through, in the page (the drop can be shorter than a poll).
  await page.evaluate((serverId) => {
    const element = document.querySelector(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${serverId}"]) [data-testid="console-state"]`)!;
    const seen: string[] = [];
    (window as unknown as { consoleStates: string[] }).consoleStates = seen;
    new MutationObserver(() => seen.push(element.getAttribute('data-state') ?? '')).observe(element, { attributes: true, attributeFilter: ['data-state'] });
  }, server!.id);
  await killAndRestartRelay();
  // While the relay was down the client kept trying; it is back streaming within the grace period.
  await expect(state).toHaveAttribute('data-state', 'streaming', { timeout: 30_000 });
  const states = await page.evaluate(() => (window as unknown as { consoleStates: string[] }).consoleStates);
  expect(states).toContain('reconnecting');
  expect(states.at(-1)).toBe('streaming');
  await shot(page, '12-resumed-after-relay-kill');
  const after = `after-${Date.now().toString(36)}`;
  await typeLine(page, server!.id, `echo ${after}`);
  await expect(consoleText(page, server!.id)).toContainText(after);
  await expect(consoleText(page, server!.id)).toContainText(before);
});

test('pop-out: a console tab opens in a window of its own and streams there', async ({ page, fleet }) => {
  const [server] = fleetServers(fleet, 'servers with a serial console', (entry) => entry.serial);
  await logIn(page, fleet);
  await openTextConsole(page, server!, 'serial');
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.locator(`[data-testid="tab"][data-tab-id="serial:${server!.id}"]`).dblclick()]);
  await expect(popup.locator(`[data-testid="sol-console"][data-server-id="${server!.id}"]`)).toBeVisible();
  // The pop-out shares the login (session storage is copied to windows the page opens), has its own
  // session, and takes control from the one the main window closed; the tab left the main window.
  await expect(popup.getByTestId('console-state')).toHaveAttribute('data-state', 'streaming');
  await expect(popup.getByTestId('console-state')).toHaveAttribute('data-mode', 'control');
  await expect(popup.getByTestId('server-tree')).toHaveCount(0);
  await expect(page.getByTestId('tab')).toHaveCount(0);
  const marker = `popped-${Date.now().toString(36)}`;
  await popup.locator('.xterm').click();
  await popup.keyboard.type(`echo ${marker}\n`);
  await expect(popup.locator('.xterm-rows')).toContainText(marker);
  await shot(popup, '17-pop-out');
  await popup.close();
});

test('broadcast: what a terminal answers a BMC\'s queries goes to that BMC only; what the person types goes to every console', async ({ page, fleet }) => {
  const [first, second] = fleetServers(fleet, 'servers with SOL', (entry) => entry.sol, 2);
  // Which console a stream belongs to: the session the page asked for names the server, its stream URL the socket.
  const serverOfStream = new Map<string, string>();
  await page.route('**/v1/servers/*/sessions', async (route) => {
    const response = await route.fetch();
    const session = (await response.json()) as { streamUrl: string };
    const serverId = decodeURIComponent(new URL(route.request().url()).pathname.split('/')[3]!);
    serverOfStream.set(new URL(session.streamUrl, fleet.relayUrl).pathname, serverId);
    await route.fulfill({ response, json: session });
  });
  // Every byte each console sends toward its BMC; and BMC A's host "printing" terminal queries: the echo of the
  // backticks typed into A is rewritten, byte for byte (the stream's offsets stay right), into ESC[6n and ESC[c.
  const sentTo = new Map<string, number[]>();
  const queries = [...Buffer.from('\x1b[6n\x1b[c', 'latin1')];
  const backtick = 0x60;
  await page.routeWebSocket('**/v1/streams/**', (socket) => {
    const relay = socket.connectToServer();
    const serverId = serverOfStream.get(new URL(socket.url()).pathname) ?? 'unknown';
    socket.onMessage((message) => {
      if (typeof message !== 'string') sentTo.set(serverId, [...(sentTo.get(serverId) ?? []), ...message]);
      relay.send(message);
    });
    relay.onMessage((message) => {
      if (typeof message === 'string' || serverId !== first!.id) return void socket.send(message);
      socket.send(Buffer.from([...message].map((byte) => (byte === backtick && queries.length > 0 ? queries.shift()! : byte))));
    });
  });
  const sent = (serverId: string) => Buffer.from(sentTo.get(serverId) ?? []).toString('latin1');
  const pane = (serverId: string) => page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${serverId}"])`);

  await logIn(page, fleet);
  await openTextConsole(page, first!, 'sol');
  await openTextConsole(page, second!, 'sol');
  await page.getByRole('button', { name: 'Side by side' }).click();
  for (const server of [first!, second!]) await pane(server.id).getByRole('checkbox', { name: /Broadcast/ }).check();
  await expect(pane(first!.id)).toContainText('Broadcast (2)');

  await page.locator(`[data-testid="sol-console"][data-server-id="${first!.id}"] .xterm`).click();
  // The terminal answers A's queries to A (cursor position, device attributes): that is what a terminal does.
  // One query at a time: the host echoes the answer too, and an answer echoed between the backticks of the next
  // query (a loaded machine types slower than it answers) would split that query.
  await page.keyboard.type('````');
  await expect.poll(() => sent(first!.id).replace(/\d+/g, 'n')).toContain('\x1b[n;nR');
  await page.keyboard.type('```');
  await expect.poll(() => queries.length).toBe(0);
  await expect.poll(() => sent(first!.id)).toContain('\x1b[?1;2c');
  // Typing still goes to both.
  await page.keyboard.type('x');
  await expect.poll(() => sent(second!.id)).toContain('x');
  // B got the keys typed, and none of the answers meant for A (JSON: the escapes show).
  expect(JSON.stringify(sent(second!.id))).toBe(JSON.stringify('```````x'));
  await shot(page, '13-broadcast-answers-stay-home');
});
