import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CREDENTIALS_FILE, CREDENTIALS_LOCK_FILE, withCredentialsLock } from '../config-store.js';
import { ExitCode } from '../exit-codes.js';
import { normaliseRelay } from './session.js';
import { run } from '../main.js';
import { type SeenRequest, type StubAnswer, relayStubs } from '../testing/relay-stub.js';

const root = mkdtempSync(join(tmpdir(), 'lightsout-session-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const stubs = relayStubs();
afterEach(() => stubs.closeAll());
let directories = 0;

/**
 * A token endpoint that behaves like oidc-provider for a public client:
 * every refresh rotates the refresh token, and a refresh token presented a
 * second time is taken as stolen (RFC 9700 §4.14.2): the whole grant is
 * revoked and every later refresh refused.
 */
function rotatingIssuer(): { answer(seen: SeenRequest): StubAnswer | undefined; refreshes: string[]; revoked(): boolean } {
  const used = new Set<string>();
  const refreshes: string[] = [];
  let revoked = false;
  return {
    refreshes,
    revoked: () => revoked,
    answer(seen) {
      if (seen.url !== '/token') return undefined;
      const refreshToken = new URLSearchParams(Buffer.from(seen.body as Buffer).toString('utf8')).get('refresh_token')!;
      refreshes.push(refreshToken);
      if (revoked || used.has(refreshToken)) {
        revoked = true;
        return { status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } };
      }
      used.add(refreshToken);
      return { status: 200, body: { access_token: `at${refreshes.length}`, refresh_token: `rt${refreshes.length}`, expires_in: 300 } };
    },
  };
}

function configWithExpiredLogin(relay: string): NodeJS.ProcessEnv {
  const directory = join(root, `config-${(directories += 1)}`);
  const session = { relay, issuer: relay, clientId: 'lightsout-cli', audience: 'relay', tokenEndpoint: `${relay}/token`, accessToken: 'at0', refreshToken: 'rt0', expiresAt: 0 };
  spawnSync('mkdir', ['-m', '700', directory]);
  writeFileSync(join(directory, CREDENTIALS_FILE), JSON.stringify({ version: 1, current: relay, sessions: { [relay]: session } }), { mode: 0o600 });
  return { LIGHTSOUT_CONFIG_DIR: directory };
}

const storedRefreshToken = (env: NodeJS.ProcessEnv, relay: string) => (JSON.parse(readFileSync(join(env['LIGHTSOUT_CONFIG_DIR']!, CREDENTIALS_FILE), 'utf8')) as { sessions: Record<string, { refreshToken: string }> }).sessions[relay]!.refreshToken;

async function runQuiet(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await run(argv, { env, output: { out: () => undefined, err: (text) => void (stderr += text) } });
  return { code, stderr };
}

describe('renewing a stored login', () => {
  it('two runs at once after the access token expired: one refresh, both succeed, the rotated token is kept', async () => {
    const issuer = rotatingIssuer();
    const relay = await stubs.start((seen) => issuer.answer(seen) ?? (seen.url === '/v1/servers' ? { status: 200, body: { servers: [] } } : { status: 404 }));
    const env = configWithExpiredLogin(relay.url);

    const results = await Promise.all([runQuiet(['servers', 'list'], env), runQuiet(['servers', 'list'], env)]);

    expect(results).toEqual([
      { code: ExitCode.OK, stderr: '' },
      { code: ExitCode.OK, stderr: '' },
    ]);
    expect(issuer.refreshes).toEqual(['rt0']);
    expect(issuer.revoked()).toBe(false);
    expect(relay.seen.filter((seen) => seen.url === '/v1/servers').map((seen) => seen.authorization)).toEqual(['Bearer at1', 'Bearer at1']);
    expect(storedRefreshToken(env, relay.url)).toBe('rt1');
  });
});

describe('withCredentialsLock', () => {
  const lockPath = (env: NodeJS.ProcessEnv) => join(env['LIGHTSOUT_CONFIG_DIR']!, CREDENTIALS_LOCK_FILE);

  it('takes over a lock whose holder has exited, and removes its own when done', async () => {
    const env = { LIGHTSOUT_CONFIG_DIR: join(root, 'dead-holder') };
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    spawnSync('mkdir', ['-p', '-m', '700', env.LIGHTSOUT_CONFIG_DIR]);
    writeFileSync(lockPath(env), JSON.stringify({ pid: exited, host: hostname(), nonce: 'old' }));
    await expect(withCredentialsLock(env, async () => JSON.parse(readFileSync(lockPath(env), 'utf8')) as { pid: number })).resolves.toMatchObject({ pid: process.pid });
    expect(() => readFileSync(lockPath(env))).toThrow(/ENOENT/);
  });

  it('takes over a lock older than the stale age even when its holder seems alive', async () => {
    const env = { LIGHTSOUT_CONFIG_DIR: join(root, 'old-lock') };
    spawnSync('mkdir', ['-p', '-m', '700', env.LIGHTSOUT_CONFIG_DIR]);
    writeFileSync(lockPath(env), JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'old' }));
    spawnSync('touch', ['-d', '@0', lockPath(env)]);
    await expect(withCredentialsLock(env, async () => 'ran')).resolves.toBe('ran');
  });

  it('a live holder: waits, then gives up with CONFLICT and leaves the holder alone', async () => {
    const env = { LIGHTSOUT_CONFIG_DIR: join(root, 'held') };
    let release!: () => void;
    let acquired!: () => void;
    const held = new Promise<void>((resolve) => (acquired = resolve));
    const holding = withCredentialsLock(env, () => {
      acquired();
      return new Promise<void>((resolve) => (release = resolve));
    });
    await held;
    await expect(withCredentialsLock(env, async () => 'ran', { waitMs: 200 })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(JSON.parse(readFileSync(lockPath(env), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    release();
    await holding;
    await expect(withCredentialsLock(env, async () => 'ran')).resolves.toBe('ran');
  });
});

describe('normaliseRelay', () => {
  it('takes https anywhere and plain http only to this machine, unless told otherwise', () => {
    expect(normaliseRelay('https://relay.example/')).toBe('https://relay.example');
    for (const local of ['http://127.0.0.1:8080', 'http://127.9.8.7', 'http://localhost:3000', 'http://relay.localhost', 'http://[::1]:8080']) expect(normaliseRelay(local)).toBe(local);
    for (const remote of ['http://relay.example', 'http://10.0.0.7:8080', 'http://[fd00::1]', 'http://127.0.0.1.nip.io']) {
      expect(() => normaliseRelay(remote)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringContaining('plain http to another machine') }));
    }
    expect(normaliseRelay('http://10.0.0.7:8080', { LIGHTSOUT_INSECURE_HTTP: '1' })).toBe('http://10.0.0.7:8080');
  });
});
