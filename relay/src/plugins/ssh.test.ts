import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../access/api-tokens.js';
import { createUser } from '../identity/accounts.js';
import { type RunningRelay, TEST_PASSWORD, loginWithPassword, startRelay } from '../testing/index.js';
import { ScriptedAgent } from '../testing/scripted-agent.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * SSH keys on accounts (/v1/me/ssh-keys), the host key, and what the front
 * door refuses before any console: keys of disabled users, and an address
 * that keeps failing. Keys come from ssh-keygen, connections from Debian's
 * OpenSSH client; fingerprints are compared with what `ssh-keygen -l` says.
 */
let relay: RunningRelay;
let directory: string;
let operatorToken: string;
let adminToken: string;

function keygen(name: string, type: string, bits?: number): { privateKey: string; publicKey: string; fingerprint: string } {
  const privateKey = join(directory, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits === undefined ? [] : ['-b', String(bits)]), '-N', '', '-C', `${name}@host`, '-f', privateKey]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${privateKey}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, 'utf8').trim(), fingerprint };
}

async function call(method: string, url: string, token: string | undefined, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  return { status: response.statusCode, body: (response.body.startsWith('{') ? response.json() : {}) as Record<string, unknown> };
}

/** `ssh -T user@relay` with one key and a known_hosts of our own; resolves with the exit status and stderr. */
async function ssh(privateKey: string, user: string): Promise<{ status: number | null; stderr: string }> {
  const knownHosts = join(directory, 'known_hosts');
  const hostKey = (await call('GET', '/v1/ssh/host-key', undefined)).body as { publicKey: string; port: number };
  writeFileSync(knownHosts, `[127.0.0.1]:${hostKey.port} ${hostKey.publicKey}\n`);
  const child = spawn('ssh', ['-F', '/dev/null', '-T', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', privateKey, '-p', String(hostKey.port), `${user}@127.0.0.1`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, stderr };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-ssh-keys-'));
  relay = await startRelay({ config: { ssh: { port: 0, failedAuthPerAddress: { perSecond: 0.001, burst: 8 } } } });
  operatorToken = (await loginWithPassword(relay.url, 'operator', TEST_PASSWORD)).accessToken;
  adminToken = (await loginWithPassword(relay.url, 'admin', TEST_PASSWORD)).accessToken;
}, 60_000);
afterAll(async () => {
  await relay?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

describe('/v1/me/ssh-keys', () => {
  it('registers Ed25519, ECDSA and RSA ≥ 2048 keys with the fingerprints ssh-keygen computes, lists and removes them, audited', async () => {
    const keys = [keygen('ed', 'ed25519'), keygen('ec', 'ecdsa', 384), keygen('rsa', 'rsa', 2048)];
    for (const key of keys) {
      const added = await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: key.publicKey });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      expect(added.body).toMatchObject({ fingerprint: key.fingerprint, name: `${key.privateKey.split('/').at(-1)}@host` });
    }
    const listed = (await call('GET', '/v1/me/ssh-keys', operatorToken)).body as { keys: Array<{ id: string; fingerprint: string; algorithm: string; bits: number }> };
    expect(listed.keys.map((key) => [key.algorithm, key.bits])).toEqual([['ssh-ed25519', 256], ['ecdsa-sha2-nistp384', 384], ['ssh-rsa', 2048]]);
    // Another user's list does not show them.
    expect(((await call('GET', '/v1/me/ssh-keys', adminToken)).body as { keys: unknown[] }).keys).toEqual([]);
    const removed = await call('DELETE', `/v1/me/ssh-keys/${listed.keys[0]!.id}`, operatorToken);
    expect(removed.status).toBe(200);
    expect(((await call('GET', '/v1/me/ssh-keys', operatorToken)).body as { keys: unknown[] }).keys).toHaveLength(2);
    const audit = await relay.app.store.selectFrom('audit').select(['action', 'details']).where('action', 'in', ['ssh-key.add', 'ssh-key.remove']).execute();
    expect(audit.filter((row) => row.action === 'ssh-key.add').map((row) => (JSON.parse(row.details!) as { fingerprint: string }).fingerprint)).toEqual(keys.map((key) => key.fingerprint));
    expect(audit.filter((row) => row.action === 'ssh-key.remove')).toHaveLength(1);
  });

  it('refuses short RSA keys, damaged lines and unknown types with VALIDATION_FAILED, and a key already registered to anyone with CONFLICT', async () => {
    const short = keygen('short', 'rsa', 1024);
    const refused = await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: short.publicKey });
    expect(refused).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', message: expect.stringContaining('at least 2048 bits') } });
    const [type, blob] = keygen('damaged', 'ed25519').publicKey.split(' ') as [string, string];
    expect((await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: `${type} ${blob.slice(0, -8)}` })).body['code']).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: `ssh-rsa ${blob}` })).body['code']).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: `ssh-dss ${Buffer.from('\0\0\0\x07ssh-dss').toString('base64')}` })).body['code']).toBe('VALIDATION_FAILED');
    const shared = keygen('shared', 'ed25519');
    expect((await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: shared.publicKey })).status).toBe(201);
    expect(await call('POST', '/v1/me/ssh-keys', adminToken, { publicKey: shared.publicKey })).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
  });

  it('an API token manages no SSH keys (a leaked one must not add a way in)', async () => {
    const token = (await createApiToken(relay.app.store, { tenant: 'demo', name: 'ci', role: 'tenant-admin', ttlSeconds: 3600, createdBy: 'test' })).token;
    expect((await call('POST', '/v1/me/ssh-keys', token, { publicKey: keygen('bot', 'ed25519').publicKey })).status).toBe(403);
    expect((await call('GET', '/v1/me/ssh-keys', token)).status).toBe(403);
  });
});

describe('the SSH host key', () => {
  it('is generated once and kept in the store: a restarted relay serves the same one', async () => {
    const first = (await call('GET', '/v1/ssh/host-key', undefined)).body as { fingerprint: string; publicKey: string };
    const file = join(directory, 'host.pub');
    writeFileSync(file, `${first.publicKey}\n`);
    expect(execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).split(' ')[1]).toBe(first.fingerprint);
    const again = await startRelay({ dataDir: relay.dataDir, config: { ssh: { port: 0 } } });
    try {
      expect((await again.app.inject({ url: '/v1/ssh/host-key' })).json()).toMatchObject({ fingerprint: first.fingerprint, publicKey: first.publicKey });
    } finally {
      await again.app.close();
    }
  }, 60_000);
});

describe('an SSH console in progress', () => {
  it('ends within a second when its user is disabled, like every console leg', async () => {
    const agent = await ScriptedAgent.start(relay.url, adminToken, [{ id: 'ssh-live-1', name: 'ssh-live-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    try {
      const user = await createUser(relay.app.store, { tenant: 'demo', username: 'ssh-leaver', password: 'ssh-leaver-password-123', role: 'operator' });
      const key = keygen('ssh-leaver', 'ed25519');
      expect((await call('POST', '/v1/me/ssh-keys', (await loginWithPassword(relay.url, 'ssh-leaver', 'ssh-leaver-password-123')).accessToken, { publicKey: key.publicKey })).status).toBe(201);
      const knownHosts = join(directory, 'known_hosts-live');
      const hostKey = (await call('GET', '/v1/ssh/host-key', undefined)).body as { publicKey: string; port: number };
      writeFileSync(knownHosts, `[127.0.0.1]:${hostKey.port} ${hostKey.publicKey}\n`);
      // stdin stays open (a person at the keyboard): the console lasts until something ends it.
      const client = spawn('ssh', ['-F', '/dev/null', '-T', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', key.privateKey, '-p', String(hostKey.port), 'ssh-live-1@127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
      client.stdout.resume();
      client.stderr.resume();
      const exited = once(client, 'exit').then(() => performance.now());
      try {
        const leg = await agent.until(() => agent.legs.find((candidate) => candidate.tenant === 'demo'), 'the SSH console\'s leg at the agent', 30_000);
        client.stdin.write('whoami\n');
        await agent.until(() => leg.typed.includes('whoami'), 'typing over SSH to reach the agent', 10_000);
        expect((await call('PATCH', `/v1/users/${user.id}`, adminToken, { disabled: true })).status).toBe(200);
        const answered = performance.now();
        expect(await leg.closed).toBe(4403);
        const gone = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(resolve, 5000, undefined))]);
        expect(gone, 'the ssh client to be disconnected').toBeDefined();
        console.log(`user disabled: SSH console ended ${(gone! - answered).toFixed(0)} ms after the call answered`);
        expect(gone! - answered).toBeLessThanOrEqual(1000);
      } finally {
        if (client.exitCode === null) client.kill('SIGTERM');
      }
    } finally {
      await agent.stop();
    }
  }, 60_000);
});

describe('the SSH front door refuses', () => {
  it('the key of a user who was disabled, and audits the refusal with its fingerprint', async () => {
    const user = await createUser(relay.app.store, { tenant: 'demo', username: 'leaver', password: 'leaver-password-123', role: 'operator' });
    const token = (await loginWithPassword(relay.url, 'leaver', 'leaver-password-123')).accessToken;
    const key = keygen('leaver', 'ed25519');
    expect((await call('POST', '/v1/me/ssh-keys', token, { publicKey: key.publicKey })).status).toBe(201);
    const before = await ssh(key.privateKey, 'leaver');
    expect(before.status).toBe(0);
    expect((await call('PATCH', `/v1/users/${user.id}`, adminToken, { disabled: true })).status).toBe(200);
    const after = await ssh(key.privateKey, 'leaver');
    expect(after.status).toBe(255);
    expect(after.stderr).toContain('Permission denied (publickey)');
    // Written when the server side of the connection closes, which may be a moment after ssh exits.
    await waitFor('the audited refusal naming the key', async () => {
      const denied = await relay.app.store.selectFrom('audit').select(['details']).where('action', '=', 'ssh.connect').where('outcome', '=', 'denied').execute();
      return denied.some((row) => (JSON.parse(row.details!) as { fingerprints: string[] }).fingerprints.includes(key.fingerprint));
    });
  }, 60_000);

  it('an address whose failures exhaust its budget, even with a valid key', async () => {
    const stranger = keygen('stranger', 'ed25519');
    const valid = keygen('valid', 'ed25519');
    expect((await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: valid.publicKey })).status).toBe(201);
    // Each refused connection costs the address one failure; the budget (8) runs out.
    for (let attempt = 0; attempt < 8; attempt += 1) expect((await ssh(stranger.privateKey, 'operator')).status).toBe(255);
    const throttled = await ssh(valid.privateKey, 'operator');
    expect(throttled.status).toBe(255);
    await waitFor('the audited throttling', async () => {
      const rows = await relay.app.store.selectFrom('audit').select(['details']).where('action', '=', 'ssh.connect').where('outcome', '=', 'denied').execute();
      return rows.some((row) => (JSON.parse(row.details!) as { reason: string }).reason.includes('too many failed authentications'));
    });
  }, 90_000);
});
