import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from '@lightsout/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { loginWithPassword } from './testing/index.js';
import { waitFor } from '@lightsout/lab/wait';

const RELAY_BIN = fileURLToPath(new URL('../bin/lightsout-relay.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'lightsout-seeded-'));
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  rmSync(directory, { recursive: true, force: true });
});

/** The real `lightsout-relay` with its stdout captured, as a supervisor or a container runtime writes it to a log file. */
async function startRelayProcess(name: string, env: Record<string, string> = {}) {
  const dataDir = join(directory, name);
  const port = await freeTcpPort();
  const configFile = join(directory, `${name}.yaml`);
  writeFileSync(configFile, JSON.stringify({ listen: { host: '127.0.0.1', port }, dataDir, webRoot: join(dataDir, 'no-web-console'), logLevel: 'info' }));
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env['LIGHTSOUT_DEMO_PASSWORD'] === undefined) delete environment['LIGHTSOUT_DEMO_PASSWORD'];
  const child = spawn(process.execPath, [RELAY_BIN, '--config', configFile], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('the relay to be ready', () => output.includes('relay ready') || (child.exitCode !== null && Promise.reject(new Error(`relay exited: ${output}`))), { timeoutMs: 60_000 });
  return { url: `http://127.0.0.1:${port}`, dataDir, output: () => output };
}

describe('the seeded admin password', () => {
  it('never reaches a captured stdout (a log file): it goes to a 0600 file in the data dir, named on stdout', async () => {
    const relay = await startRelayProcess('generated');
    const file = join(relay.dataDir, 'initial-credentials.txt');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = /admin\s+(\S+)\s+provider-admin/.exec(readFileSync(file, 'utf8'))?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(relay.output()).not.toContain(password);
    expect(relay.output()).toContain(file);
    expect((await loginWithPassword(relay.url, 'admin', password!)).accessToken).toBeTypeOf('string');
  }, 90_000);

  it('a password given in LIGHTSOUT_DEMO_PASSWORD is not printed back', async () => {
    const relay = await startRelayProcess('fixed', { LIGHTSOUT_DEMO_PASSWORD: 'Fixed-Demo-Password-9c2e' });
    expect(relay.output()).toContain('LIGHTSOUT_DEMO_PASSWORD');
    expect(relay.output()).not.toContain('Fixed-Demo-Password-9c2e');
  }, 90_000);
});
