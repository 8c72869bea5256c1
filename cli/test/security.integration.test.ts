import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/exit-codes.js';
import { tokenSourceFor } from '../src/auth/session.js';
import { run } from '../src/main.js';
import type { TrackedProcess } from '../src/testing/processes.js';
import { loginThroughDeviceFlow, startRelayProcess } from '../src/testing/stack.js';

/** `lightsout tokens …` and `lightsout audit export|verify` against a real relay process, logged in through the device flow. */
const PASSWORD = 'cli-security-test-password';
let relay: TrackedProcess;
let directory: string;
let adminEnv: NodeJS.ProcessEnv;

async function cli(argv: string[], env: NodeJS.ProcessEnv) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env, output: { out: (text) => (stdout += text), err: (text) => (stderr += text) } });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-cli-security-'));
  const port = await freeTcpPort();
  relay = await startRelayProcess({ port, dataDir: join(directory, 'relay'), heartbeatIntervalMs: 1000, password: PASSWORD, configDir: directory });
  const url = `http://127.0.0.1:${port}`;
  adminEnv = { LIGHTSOUT_CONFIG_DIR: join(directory, 'config'), LIGHTSOUT_RELAY: url };
  await loginThroughDeviceFlow(url, adminEnv, 'admin', PASSWORD);
}, 90_000);
afterAll(async () => {
  await relay?.kill('SIGTERM');
  rmSync(directory, { recursive: true, force: true });
});

describe('lightsout tokens and audit', () => {
  it('creates a service-account token shown once, lists it without the secret, and the token works as LIGHTSOUT_TOKEN until revoked', async () => {
    const created = await cli(['tokens', 'create', 'ci-reboots', '--role', 'tenant-admin', '--tenant', 'demo'], adminEnv);
    expect(created.code).toBe(ExitCode.OK);
    const token = created.stdout.trim();
    expect(token).toMatch(/^lso_/);
    const listed = await cli(['tokens', 'list', '--tenant', 'demo', '--json'], adminEnv);
    expect(listed.stdout).not.toContain(token.slice(4));
    const id = (JSON.parse(listed.stdout) as { tokens: Array<{ id: string; name: string }> }).tokens.find((entry) => entry.name === 'ci-reboots')!.id;
    const tokenEnv = { ...adminEnv, LIGHTSOUT_TOKEN: token };
    expect((await cli(['whoami', '--json'], tokenEnv)).stdout).toContain('"tenant": "demo"');
    // A token never manages people, whatever its role (docs/security.md).
    const users = await cli(['users', 'list'], tokenEnv);
    expect(users.code).not.toBe(ExitCode.OK);
    expect(users.stderr).toContain('FORBIDDEN');
    expect((await cli(['tokens', 'revoke', id], adminEnv)).code).toBe(ExitCode.OK);
    const refused = await cli(['whoami'], tokenEnv);
    expect(refused.code).toBe(ExitCode.AUTH);
    expect(refused.stderr).toContain('TOKEN_INVALID');
  });

  it('verifies the live chain and an export, and fails on an edited or shortened export', async () => {
    const live = await cli(['audit', 'verify'], adminEnv);
    expect(live.code).toBe(ExitCode.OK);
    expect(live.stdout).toMatch(/^audit chain ok: \d+ records/);
    const exported = await cli(['audit', 'export'], adminEnv);
    const file = join(directory, 'audit.jsonl');
    writeFileSync(file, exported.stdout);
    expect((await cli(['audit', 'verify', '--file', file], adminEnv)).code).toBe(ExitCode.OK);

    const lines = exported.stdout.trim().split('\n');
    const edited = JSON.parse(lines[1]!) as { outcome: string };
    edited.outcome = edited.outcome === 'success' ? 'failure' : 'success';
    writeFileSync(file, [lines[0], JSON.stringify(edited), ...lines.slice(2)].join('\n'));
    const tampered = await cli(['audit', 'verify', '--file', file], adminEnv);
    expect(tampered.code).toBe(ExitCode.ERROR);
    expect(tampered.stderr).toContain('CHECKSUM_MISMATCH');
    writeFileSync(file, [lines[0], ...lines.slice(2)].join('\n'));
    expect((await cli(['audit', 'verify', '--file', file], adminEnv)).stderr).toMatch(/broken at record 3/);
  });

  it('creates a user (password from the environment), narrows them with grants, and disables them', async () => {
    const noPassword = await cli(['users', 'create', 'night-shift', '--role', 'viewer', '--tenant', 'demo'], adminEnv);
    expect(noPassword.code).toBe(ExitCode.USAGE);
    const created = await cli(['users', 'create', 'night-shift', '--role', 'viewer', '--tenant', 'demo', '--json'], { ...adminEnv, LIGHTSOUT_NEW_PASSWORD: 'night-shift-password' });
    expect(created.code).toBe(ExitCode.OK);
    const user = JSON.parse(created.stdout) as { id: string; tenant: string; role: string };
    expect(user).toMatchObject({ tenant: 'demo', role: 'viewer' });
    expect((await cli(['grants', 'create', user.id, '--rack', 'r7'], adminEnv)).code).toBe(ExitCode.OK);
    const label = await cli(['grants', 'create', user.id, '--label', 'role=web', '--json'], adminEnv);
    const listed = await cli(['grants', 'list', '--tenant', 'demo'], adminEnv);
    expect(listed.stdout).toContain('rack r7');
    expect(listed.stdout).toContain('label role=web');
    expect((await cli(['grants', 'delete', (JSON.parse(label.stdout) as { id: string }).id], adminEnv)).code).toBe(ExitCode.OK);
    expect((await cli(['grants', 'list', '--tenant', 'demo'], adminEnv)).stdout).not.toContain('label role=web');
    expect((await cli(['grants', 'create', user.id, '--rack', 'r1', '--servers', 'a'], adminEnv)).code).toBe(ExitCode.USAGE);
    const disabled = await cli(['users', 'disable', user.id], adminEnv);
    expect(disabled.stdout).toBe('night-shift is disabled\n');
  });
});

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret: what the user's authenticator app shows. */
function totpNow(secret: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

describe('lightsout users mfa-code and mfa enroll', () => {
  it('in a tenant that requires MFA, a user enrolls a factor only with the code an admin issued', async () => {
    const url = adminEnv['LIGHTSOUT_RELAY']!;
    const adminToken = await tokenSourceFor(url, adminEnv).token();
    const tenant = await fetch(`${url}/v1/tenants`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ id: 'mfa-co', name: 'MFA Co', requireMfa: true }) });
    expect(tenant.status).toBe(201);
    const password = 'mfa-cli-operator-Stapler-Walrus-42';
    const created = await cli(['users', 'create', 'mfa-op', '--role', 'operator', '--tenant', 'mfa-co', '--json'], { ...adminEnv, LIGHTSOUT_NEW_PASSWORD: password });
    expect(created.code, created.stderr).toBe(ExitCode.OK);
    const userId = (JSON.parse(created.stdout) as { id: string }).id;
    const operatorEnv = { LIGHTSOUT_CONFIG_DIR: join(directory, 'config-mfa-op'), LIGHTSOUT_RELAY: url };
    await loginThroughDeviceFlow(url, operatorEnv, 'mfa-op@mfa-co', password);

    // The password alone is exactly what an MFA tenant does not trust: no factor without the admin's code.
    const refused = await cli(['mfa', 'enroll'], { ...operatorEnv, LIGHTSOUT_PASSWORD: password });
    expect(refused.code).not.toBe(ExitCode.OK);
    expect(refused.stderr).toContain('MFA_ENROLLMENT_REQUIRED');

    const issued = await cli(['users', 'mfa-code', userId], adminEnv);
    expect(issued.code, issued.stderr).toBe(ExitCode.OK);
    const code = issued.stdout.trim();
    expect(code).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(issued.stderr).toContain('lightsout mfa enroll');

    const started = await cli(['mfa', 'enroll', '--json'], { ...operatorEnv, LIGHTSOUT_PASSWORD: password, LIGHTSOUT_MFA_ENROLLMENT_CODE: code });
    expect(started.code, started.stderr).toBe(ExitCode.OK);
    const { secret, otpauthUri } = JSON.parse(started.stdout) as { secret: string; otpauthUri: string };
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const confirmed = await cli(['mfa', 'confirm', totpNow(secret)], operatorEnv);
    expect(confirmed.code, confirmed.stderr).toBe(ExitCode.OK);
    const listed = JSON.parse((await cli(['users', 'list', '--tenant', 'mfa-co', '--json'], adminEnv)).stdout) as { users: Array<{ id: string; mfa: boolean }> };
    expect(listed.users.find((user) => user.id === userId)?.mfa).toBe(true);
  }, 120_000);
});
