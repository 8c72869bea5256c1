import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JWK, SignJWT, importJWK } from 'jose';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../identity/accounts.js';
import { readProviderSecrets } from '../identity/keys.js';
import { type RunningRelay, TEST_PASSWORD, loginWithPassword, startRelay } from '../testing/index.js';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * Step-up (RFC 9470) over the SSH front door: taking over a console someone
 * else controls needs a recent sign-in, and neither an SSH certificate nor a
 * registered key may turn an old sign-in into a recent one. A certificate
 * carries the sign-in of the token it was issued with; a key is registered
 * only with a recent sign-in, since each connection with it counts as one
 * (docs/native-clients.md). Connections come from Debian's OpenSSH client.
 */
let relay: RunningRelay;
let directory: string;
let adminToken: string;
let edKey: JWK;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-ssh-step-up-'));
  relay = await startRelay({ config: { ssh: { port: 0 } } });
  adminToken = (await loginWithPassword(relay.url, 'admin', TEST_PASSWORD)).accessToken;
  edKey = (await readProviderSecrets(relay.app.keyDocuments))!.jwks.keys.find((key) => key.alg === 'EdDSA')!;
}, 60_000);
afterAll(async () => {
  await relay?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

function keygen(name: string): { privateKey: string; publicKey: string } {
  const privateKey = join(directory, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@host`, '-f', privateKey]);
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, 'utf8').trim() };
}

async function call(method: string, url: string, token: string, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> };
}

/** An access token of the embedded OP for `subject` whose sign-in (auth_time) was `signedInSecondsAgo` ago, as after days of refreshes. */
async function tokenSignedInAgo(subject: string, signedInSecondsAgo: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ auth_time: now - signedInSecondsAgo, amr: ['pwd'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' })
    .setIssuer(relay.app.config.identity.issuer)
    .setSubject(subject)
    .setAudience(relay.app.config.identity.audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(await importJWK(edKey, 'EdDSA'));
}

/**
 * `ssh -T <server>@relay` with a key and its certificate (`<key>-cert.pub`, which OpenSSH offers by itself),
 * stdin left open like a person at the keyboard. Resolves once the console was refused (the client exits)
 * or opened (`opened` resolves: a new leg at the agent), whichever comes first.
 */
async function sshConsole(privateKey: string, serverId: string, opened: Promise<unknown>): Promise<{ opened: true } | { status: number | null; stderr: string }> {
  const hostKey = (await relay.app.inject({ url: '/v1/ssh/host-key' })).json() as { publicKey: string; port: number };
  const knownHosts = join(directory, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${hostKey.port} ${hostKey.publicKey}\n`);
  const child = spawn('ssh', ['-F', '/dev/null', '-T', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', privateKey, '-p', String(hostKey.port), `${serverId}@127.0.0.1`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exited = once(child, 'exit').then(([status]) => ({ status: status as number | null, stderr }));
  try {
    return await Promise.race([exited, opened.then(() => ({ opened: true as const }))]);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

describe('taking over a console over SSH', () => {
  it('with a certificate issued to a days-old sign-in is refused STEP_UP_REQUIRED (exit 3) and audited; a certificate of a fresh sign-in takes over', async () => {
    const agent = await ScriptedAgent.start(relay.url, adminToken, [{ id: 'takeover-1', name: 'takeover-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    try {
      // Someone else's console is live on takeover-1: the admin's, over SSH with a registered key.
      const ownerKey = keygen('owner');
      expect((await call('POST', '/v1/me/ssh-keys', adminToken, { publicKey: ownerKey.publicKey })).status).toBe(201);
      const port = ((await relay.app.inject({ url: '/v1/ssh/host-key' })).json() as { port: number }).port;
      const owner = new ssh2.Client();
      await new Promise<void>((resolve, reject) => owner.once('ready', () => resolve()).once('error', reject).connect({ host: '127.0.0.1', port, username: 'takeover-1', privateKey: readFileSync(ownerKey.privateKey), readyTimeout: 10_000 }));
      try {
        await new Promise<void>((resolve, reject) => owner.shell(false, (error, channel) => (error ? reject(error) : (channel.resume(), resolve()))));
        await agent.until(() => agent.legs.length === 1 || undefined, "the owner's console leg at the agent", 30_000);

        const password = 'ssh-late-password-123';
        const late = await createUser(relay.app.store, { tenant: 'demo', username: 'ssh-late', password, role: 'operator' });
        const key = keygen('late');
        const stale = await tokenSignedInAgo(late.id, 3 * 86_400);
        const issued = await call('POST', '/v1/me/ssh-certificate', stale, { publicKey: key.publicKey });
        expect(issued.status, JSON.stringify(issued.body)).toBe(201);
        writeFileSync(`${key.privateKey}-cert.pub`, `${String(issued.body['certificate'])}\n`);
        const refused = await sshConsole(key.privateKey, 'takeover-1', agent.until(() => agent.legs.length > 1 || undefined, 'a second leg', 30_000));
        expect(refused).toMatchObject({ status: 3, stderr: expect.stringContaining('STEP_UP_REQUIRED') });
        expect(agent.legs).toHaveLength(1);
        const audited = await relay.app.store.selectFrom('audit').select(['action', 'outcome', 'details']).where('subject', '=', late.id).where('action', 'like', 'session.%').execute();
        expect(audited).toMatchObject([{ action: 'session.join', outcome: 'denied' }]);
        expect(JSON.parse(audited[0]!.details!)).toMatchObject({ via: 'ssh', code: 'STEP_UP_REQUIRED' });

        // The same person signed in just now: the certificate carries that sign-in, and the takeover goes through.
        const fresh = (await loginWithPassword(relay.url, 'ssh-late', password)).accessToken;
        const reissued = await call('POST', '/v1/me/ssh-certificate', fresh, { publicKey: key.publicKey });
        writeFileSync(`${key.privateKey}-cert.pub`, `${String(reissued.body['certificate'])}\n`);
        expect(await sshConsole(key.privateKey, 'takeover-1', agent.until(() => agent.legs.length > 1 || undefined, 'the takeover leg', 30_000))).toEqual({ opened: true });
      } finally {
        owner.end();
      }
    } finally {
      await agent.stop();
    }
  }, 90_000);
});

describe('registering an SSH key', () => {
  it('needs a recent sign-in (each connection with the key counts as one): a days-old one is refused STEP_UP_REQUIRED, and no key is added', async () => {
    const password = 'ssh-stale-password-123';
    const user = await createUser(relay.app.store, { tenant: 'demo', username: 'ssh-stale', password, role: 'operator' });
    const stale = await tokenSignedInAgo(user.id, 3 * 86_400);
    const key = keygen('stale');
    const refused = await relay.app.inject({ method: 'POST', url: '/v1/me/ssh-keys', headers: { authorization: `Bearer ${stale}` }, payload: { publicKey: key.publicKey } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'STEP_UP_REQUIRED', details: { maxAge: relay.app.config.identity.stepUpMaxAgeSeconds } });
    expect(refused.headers['www-authenticate']).toContain('error="insufficient_user_authentication"');
    expect(((await call('GET', '/v1/me/ssh-keys', stale)).body['keys'] as unknown[])).toEqual([]);
    // Signed in just now: added.
    const fresh = (await loginWithPassword(relay.url, 'ssh-stale', password)).accessToken;
    expect((await call('POST', '/v1/me/ssh-keys', fresh, { publicKey: key.publicKey })).status).toBe(201);
  });
});
