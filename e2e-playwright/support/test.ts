import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test as base, expect, type Page } from '@playwright/test';

export { expect };

export interface FleetServer {
  id: string;
  name: string;
  /** Which consoles and features the simulated BMC offers. */
  sol: boolean;
  serial: boolean;
  vnc: boolean;
  media: boolean;
  /** The BMC's IPMI endpoint and login, for a test that acts on the BMC itself. */
  ipmi: { host: string; port: number; username: string; password: string };
}

export interface Stack {
  relayUrl: string;
  password: string;
  /** 'ready', or why the simulated fleet is not running. */
  fleet: string;
  servers: FleetServer[];
}

const screens = join(import.meta.dirname, '../test-results/screens');

/** Saves a named full-page screenshot under test-results/screens (kept as artifacts, looked at by people). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(screens, { recursive: true });
  await page.screenshot({ path: join(screens, `${name}.png`) });
}

/** Logs in through the embedded OP's login page, as a person would. */
export async function logIn(page: Page, stack: Stack, username: 'operator' | 'admin' = 'operator'): Promise<void> {
  await page.goto(stack.relayUrl);
  // The console goes straight on to the OP's sign-in form (its own card shows only to say why a session ended).
  await page.waitForURL((url) => url.pathname.startsWith('/oidc') || url.pathname.startsWith('/interaction'));
  await page.locator('input[name="username"], input[name="login"]').first().fill(username);
  await page.locator('input[name="password"]').fill(stack.password);
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
  // A consent step, when the OP shows one.
  const consent = page.locator('button[type="submit"]:has-text("Continue"), button[type="submit"]:has-text("Allow")');
  await Promise.race([
    page.getByTestId('username').waitFor(),
    consent.first().waitFor().then(() => consent.first().click()),
  ]);
  await expect(page.getByTestId('username')).toHaveText(username);
}

export const test = base.extend<{ stack: Stack; fleet: Stack }>({
  // Playwright requires the fixtures argument to be an object pattern, even when empty.
  // eslint-disable-next-line no-empty-pattern
  stack: async ({}, use) => {
    const relayUrl = process.env.LIGHTSOUT_E2E_RELAY_URL;
    const password = process.env.LIGHTSOUT_E2E_PASSWORD;
    if (!relayUrl || !password) throw new Error('global setup did not start the stack');
    const servers = JSON.parse(process.env.LIGHTSOUT_E2E_SERVERS ?? '[]') as FleetServer[];
    await use({ relayUrl, password, fleet: process.env.LIGHTSOUT_E2E_FLEET ?? 'unknown', servers });
  },
  /** The stack, for tests that need servers. A missing fleet fails the test: a skip would pass having tested nothing. */
  fleet: async ({ stack }, use) => {
    if (stack.fleet !== 'ready') throw new Error(`the simulated fleet is not running: ${stack.fleet}`);
    await use(stack);
  },
});

/**
 * The fleet's servers that `matches` accepts, at least `count` of them. Fewer is a
 * failure naming what is missing: the fleet is ours, so a missing kind is a broken harness.
 */
export function fleetServers(stack: Stack, what: string, matches: (server: FleetServer) => boolean, count = 1): FleetServer[] {
  const found = stack.servers.filter(matches);
  if (found.length < count) throw new Error(`the simulated fleet has ${found.length} ${what}, this test needs ${count}`);
  return found;
}

/** Filters the tree to one server and returns its row. */
export async function findServer(page: Page, name: string) {
  await page.getByLabel('Filter servers').fill(name);
  const row = page.locator(`[data-testid="server-row"][data-server-id]`, { hasText: name }).first();
  await expect(row).toBeVisible();
  return row;
}

/** Opens the actions menu of a server row and picks an item by test id. */
export async function serverAction(page: Page, name: string, item: string): Promise<void> {
  const row = await findServer(page, name);
  await row.click({ button: 'right' });
  await page.getByTestId(item).click();
}

/** Opens a text console (serial or SOL) from the actions menu and waits until it streams. */
export async function openTextConsole(page: Page, server: FleetServer, kind: 'serial' | 'sol'): Promise<void> {
  await serverAction(page, server.name, kind === 'serial' ? 'menu-open-serial' : 'menu-open-sol');
  await expect(page.locator(`[data-testid="sol-console"][data-server-id="${server.id}"]`)).toBeVisible();
  const state = page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${server.id}"]) [data-testid="console-state"]`);
  await expect(state).toHaveAttribute('data-state', 'streaming');
  // Someone else (an earlier test's session, still in its grace period) may hold control: take it, as a user would.
  // The holder can also let go by itself (its grace period ends) between reading the mode and the click,
  // and the button is gone then: retry until this console is in control, clicking only while it offers the button.
  const takeControl = page.locator(`[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="${server.id}"]) [data-testid="take-control"]`);
  await expect(async () => {
    if ((await state.getAttribute('data-mode')) === 'view') await takeControl.click({ timeout: 1_000 });
    await expect(state).toHaveAttribute('data-mode', 'control', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
}

/** Types a line into a server's text console. */
export async function typeLine(page: Page, serverId: string, line: string): Promise<void> {
  await page.locator(`[data-testid="sol-console"][data-server-id="${serverId}"] .xterm`).click();
  await page.keyboard.type(`${line}\n`);
}

/** The text an xterm.js console shows (DOM renderer rows), for echo checks. */
export function consoleText(page: Page, serverId: string) {
  return page.locator(`[data-testid="sol-console"][data-server-id="${serverId}"] .xterm-rows`);
}

/**
 * Kills the relay with SIGKILL and starts it again on the same port and data
 * (global setup does it), with the settings given or, without, the defaults.
 */
export async function killAndRestartRelay(settings: { stepUpMaxAgeSeconds?: number } = {}): Promise<void> {
  const controlUrl = process.env.LIGHTSOUT_E2E_CONTROL_URL;
  if (!controlUrl) throw new Error('no stack control URL');
  const response = await fetch(`${controlUrl}/relay/kill-and-restart`, { method: 'POST', body: JSON.stringify(settings) });
  if (response.status !== 204) throw new Error(`relay restart failed: ${await response.text()}`);
}

/** Waits until a VNC tab's framebuffer shows more than one colour: a real screen, not the blank canvas. */
export async function expectVncScreen(page: Page, serverId: string): Promise<void> {
  const canvas = page.locator(`[data-testid="vnc-console"][data-server-id="${serverId}"] canvas`);
  await expect(canvas).toBeVisible();
  await expect
    .poll(
      () =>
        canvas.evaluate((element: HTMLCanvasElement) => {
          const context = element.getContext('2d');
          if (!context || element.width === 0) return 0;
          const pixels = context.getImageData(0, 0, element.width, element.height).data;
          const colours = new Set<number>();
          for (let index = 0; index < pixels.length && colours.size < 64; index += 4 * 97) colours.add((pixels[index]! << 16) | (pixels[index + 1]! << 8) | pixels[index + 2]!);
          return colours.size;
        }),
      { timeout: 30_000 },
    )
    .toBeGreaterThan(1);
}

async function stackControl(path: string): Promise<void> {
  const controlUrl = process.env.LIGHTSOUT_E2E_CONTROL_URL;
  if (!controlUrl) throw new Error('no stack control URL');
  const response = await fetch(`${controlUrl}${path}`, { method: 'POST' });
  if (response.status !== 204) throw new Error(`${path} failed: ${await response.text()}`);
}

/** Freezes the agent with SIGSTOP: its connections stay open and it answers nothing (a hung host). */
export const freezeAgent = () => stackControl('/agent/freeze');

/** Thaws a frozen agent (SIGCONT). */
export const thawAgent = () => stackControl('/agent/thaw');

/** Kills the agent with SIGKILL and starts it again; resolves once every server is online again. */
export const killAndRestartAgent = () => stackControl('/agent/kill-and-restart');
