import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loginWithPassword, startRelay } from './testing/index.js';

const BIN = fileURLToPath(new URL('../bin/lightsout-relay.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'lightsout-admin-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function relayCommand(config: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args, '--config', config], { encoding: 'utf8', env: { ...process.env, LIGHTSOUT_RELAY_CONFIG: '' }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function configFile(name: string, yaml: string): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

describe('lightsout-relay host-local bootstrap commands', () => {
  it('tenant create: a tenant in a fresh external-mode store, once', () => {
    const config = configFile('external', `dataDir: ${join(directory, 'external')}\nidentity:\n  mode: external\n  external:\n    issuer: http://127.0.0.1:9/unreachable\n`);
    expect(relayCommand(config, 'tenant', 'create', '--id', 'acme', '--name', 'Acme Hosting', '--require-mfa')).toMatchObject({ status: 0, stdout: 'acme\n' });
    const again = relayCommand(config, 'tenant', 'create', '--id', 'acme', '--name', 'Acme Hosting');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('CONFLICT');
    expect(relayCommand(config, 'tenant', 'create', '--id', 'Not A Slug', '--name', 'x').stderr).toContain('VALIDATION_FAILED');
    // Users live at the external issuer: refused with a hint.
    expect(relayCommand(config, 'user', 'create', '--tenant', 'acme', '--username', 'root', '--role', 'tenant-admin').stderr).toContain('external issuer');
  }, 120_000);

  it('user create: the first administrator of an install without the demo seed, password shown once on the terminal', async () => {
    const dataDir = join(directory, 'embedded');
    const config = configFile('embedded', `dataDir: ${dataDir}\nidentity:\n  seedDemo: false\n`);
    expect(relayCommand(config, 'tenant', 'create', '--id', 'provider', '--name', 'Provider').status).toBe(0);
    const created = relayCommand(config, 'user', 'create', '--tenant', 'provider', '--username', 'root', '--role', 'provider-admin');
    expect(created.status).toBe(0);
    const password = /^root (\S+) {3}provider-admin, tenant provider/.exec(created.stdout)?.[1];
    expect(password).toMatch(/^\S{16,}$/);
    const relay = await startRelay({ dataDir, config: { identity: { seedDemo: false } } });
    try {
      const { accessToken } = await loginWithPassword(relay.url, 'root', password!);
      const me = await fetch(`${relay.url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(await me.json()).toMatchObject({ username: 'root', tenant: 'provider', role: 'provider-admin' });
    } finally {
      await relay.close();
    }
  }, 120_000);
});
