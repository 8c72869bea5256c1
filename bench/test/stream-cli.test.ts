import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli, optionalAddons } from '@lightsout/cli/bundle';
import { SERVER_MALLOC_TUNABLES, SERVER_NODE_FLAGS } from '@lightsout/scripts/server-node-flags';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { type Stack, startStack } from '../lib/stack.js';
import { until } from '../lib/processes.js';

/**
 * `lightsout console` and `lightsout vnc` as a user runs them: the CLI process
 * against relay and agent processes; the console's host echoes what is typed.
 * Input is piped (no TTY), so raw mode is skipped but the escapes work the same.
 *
 * The console runs twice: from the sources through tsx, and as the one-file
 * bundle operators install (`npm run bundle -w @lightsout/cli`), copied
 * alone into a temporary directory with no node_modules anywhere above it —
 * each on a console of its own, so neither sees the other's scrollback.
 */
const sourceBin = fileURLToPath(new URL('../../cli/bin/lightsout.js', import.meta.url));
const bundleDirectory = mkdtempSync(join(tmpdir(), 'lightsout-cli-bundle-'));
const bundleBin = join(bundleDirectory, 'lightsout.mjs');
const programs = [
  { program: 'from the sources (tsx)', bin: sourceBin, server: 'web-01' },
  { program: 'as one bundled file', bin: bundleBin, server: 'web-02' },
];

describe('lightsout console / vnc', () => {
  const echoes = new Map<string, Awaited<ReturnType<typeof startSerialWebSocketEcho>>>();
  let stack: Stack;
  const children = new Set<ChildProcess>();

  let bundled: Awaited<ReturnType<typeof bundleCli>>;

  beforeAll(async () => {
    bundled = await bundleCli(bundleBin);
    for (const { server } of programs) echoes.set(server, await startSerialWebSocketEcho());
    stack = await startStack(programs.map(({ server }) => ({ id: server, serial: { url: echoes.get(server)!.url }, vnc: { url: 'vnc://127.0.0.1:5999' } })));
  }, 90_000);
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await stack?.close();
    for (const echo of echoes.values()) await echo.close();
    rmSync(bundleDirectory, { recursive: true, force: true });
  });

  function cli(args: string[], bin = sourceBin) {
    const env: NodeJS.ProcessEnv = { ...process.env, LIGHTSOUT_RELAY: stack.relayUrl, LIGHTSOUT_TOKEN: stack.operatorToken, LIGHTSOUT_CONFIG_DIR: '/nonexistent-lightsout-config' };
    // The bundle runs where it was copied to, with no module path to fall back on.
    if (bin === bundleBin) delete env['NODE_PATH'];
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: bin === bundleBin ? bundleDirectory : undefined,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'exit').then(([code]) => {
      children.delete(child);
      return code as number | null;
    });
    return { child, exited, stdout: () => stdout, stderr: () => stderr };
  }

  it('the bundle stands alone: it imports only Node built-ins (and optional addons), and no node_modules is reachable from it', () => {
    const builtins = new Set(builtinModules);
    expect(bundled.imports.filter((path) => !builtins.has(path.replace(/^node:/, '')) && !optionalAddons.includes(path))).toEqual([]);
    for (let directory = bundleDirectory; ; directory = dirname(directory)) {
      expect(existsSync(join(directory, 'node_modules')), directory).toBe(false);
      if (dirname(directory) === directory) break;
    }
  });

  it("starts as an executable with the servers' Node flags and malloc settings on its first line", () => {
    expect(readFileSync(bundleBin, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S GLIBC_TUNABLES=${SERVER_MALLOC_TUNABLES}:\${GLIBC_TUNABLES} node ${SERVER_NODE_FLAGS.join(' ')}`);
    const run = spawnSync(bundleBin, ['--help'], { cwd: bundleDirectory, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH']}` }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Usage: lightsout');
  });

  it.each(programs)('types through to the console, resumes after the relay is killed, refuses what is typed meanwhile, and leaves with ~. ($program)', async ({ bin, server }) => {
    const echo = echoes.get(server)!;
    const session = cli(['console', server], bin);
    await until(() => session.stderr().includes('~. to leave'), 20_000, 'the console banner');
    session.child.stdin!.write('hello\r');
    await until(() => session.stdout().includes('hello\r'), 20_000, 'the echo');
    await stack.killRelay();
    await until(() => session.stderr().includes('resuming'), 10_000, 'the CLI to notice');
    // Typed while the path is down: refused visibly, never sent later (a command must not run when the path comes back).
    session.child.stdin!.write('typed while the relay was down\r');
    await until(() => session.stderr().includes('[not connected — input not sent]'), 10_000, 'the refusal notice');
    await stack.startRelay();
    await until(() => session.stderr().includes('resumed'), 30_000, () => `the CLI to resume; its stderr ends: ${session.stderr().slice(-600)}`);
    session.child.stdin!.write('after\r');
    await until(() => session.stdout().includes('after\r'), 20_000, 'the echo after resume');
    session.child.stdin!.write('~.');
    expect(await session.exited).toBe(0);
    // Exactly once each: nothing lost, nothing repeated across the restart, nothing typed while down.
    expect(session.stdout()).toBe('hello\rafter\r');
    expect(echo.received().toString()).toBe('hello\rafter\r');
    // Leaving is immediate: the agent lets go of the console now, not when the 30 s grace period ends.
    await until(() => echo.connections() === 0, 5000, 'the agent to release the console after ~.');
  }, 90_000);

  it('prints the web console URL of the graphical console', async () => {
    const run = cli(['vnc', 'web-01']);
    expect(await run.exited).toBe(0);
    const url = new URL(run.stdout().trim());
    expect(url.origin).toBe(stack.relayUrl);
    expect(JSON.parse(url.searchParams.get('popout')!)).toMatchObject({ kind: 'vnc', serverId: 'web-01' });
  }, 30_000);

  it('fails with the stable code for a server that does not exist', async () => {
    const run = cli(['console', 'nope-01']);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toMatch(/^error NOT_FOUND/m);
  }, 30_000);
});
