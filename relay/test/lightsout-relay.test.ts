import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from '@lightsout/lab';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/lightsout-relay.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'lightsout-bin-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('lightsout-relay command', () => {
  it('exits 1 naming the bad key', async () => {
    const file = join(directory, 'bad.yaml');
    writeFileSync(file, 'agents:\n  heartbeatIntervalMs: fast\n');
    const { output, exited } = run(['--config', file]);
    expect(await exited).toBe(1);
    expect(output()).toContain('CONFIG_INVALID');
    expect(output()).toContain('"agents.heartbeatIntervalMs"');
  });

  it('starts, names the demo accounts without echoing the given password, serves /readyz, stops on SIGTERM', async () => {
    const port = await freeTcpPort();
    const file = join(directory, 'good.yaml');
    writeFileSync(file, `listen:\n  port: ${port}\ndataDir: ${join(directory, 'data')}\nlogLevel: warn\nwebRoot: ${join(directory, 'no-web')}\n`);
    const { child, output, exited } = run(['--config', file], { LIGHTSOUT_DEMO_PASSWORD: 'bin-test-password' });
    try {
      // Ready when the credentials banner (printed after seeding, before listening) and /readyz both answer.
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false);
        if (!ready) await new Promise<void>((resolve) => setTimeout(resolve, 100));
      }
      expect(ready).toBe(true);
      // A password the operator gave is theirs already: the banner names where it came from, never the value.
      expect(output()).toContain('admin     (the password in LIGHTSOUT_DEMO_PASSWORD)   provider-admin, tenant provider');
      expect(output()).not.toContain('bin-test-password');
      expect(output()).toContain(`lightsout login --relay http://127.0.0.1:${port}`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
