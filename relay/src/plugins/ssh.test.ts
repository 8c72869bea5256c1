import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../access/api-tokens.js';
import { createUser, ensureTenant } from '../identity/accounts.js';
import { signCertificate } from '../ssh/certificates.js';
import { loadUserCa } from '../ssh/host-key.js';
import { type RunningRelay, TEST_PASSWORD, loginWithPassword, startRelay } from '../testing/index.js';
import { ScriptedAgent, type ScriptedLeg } from '../testing/scripted-agent.js';
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

/** An ssh2 client logged in as `user` with one key (the host key is not checked: these tests are about the server side). */
async function connectWith(privateKey: string, user: string): Promise<ssh2.Client> {
  const port = ((await call('GET', '/v1/ssh/host-key', undefined)).body as { port: number }).port;
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve()).once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: user, privateKey: readFileSync(privateKey), readyTimeout: 10_000 });
  });
  return client;
}

function shellOf(client: ssh2.Client): Promise<ClientChannel> {
  return new Promise((resolve, reject) => client.shell(false, (error, channel) => (error ? reject(error) : resolve(channel))));
}

/**
 * Sends a raw session request ssh2's client API would not (a second shell, an exec on a shell's channel)
 * with want-reply set, and resolves with the server's answer (RFC 4254 §5.4): true for success.
 */
function requestAgain(client: ssh2.Client, channel: ClientChannel, type: 'shell' | 'exec'): Promise<boolean> {
  const internals = channel as unknown as { outgoing: { id: number }; _callbacks: Array<(failed: boolean) => void> };
  const protocol = (client as unknown as { _protocol: { shell(id: number, wantReply: boolean): void; exec(id: number, command: string, wantReply: boolean): void } })._protocol;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to the ${type} request`)), 5000);
    internals._callbacks.push((failed) => {
      clearTimeout(timer);
      resolve(!failed);
    });
    if (type === 'shell') protocol.shell(internals.outgoing.id, true);
    else protocol.exec(internals.outgoing.id, 'id', true);
  });
}

/** Everything the channel writes until it closes, and its exit status. */
function drain(channel: ClientChannel): Promise<{ stdout: string; stderr: string; code: number | undefined }> {
  let stdout = '';
  let stderr = '';
  let code: number | undefined;
  channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  channel.on('exit', (status: number) => (code = status));
  return new Promise((resolve) => channel.once('close', () => resolve({ stdout, stderr, code })));
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

describe('one session channel, one shell', () => {
  it('refuses a second shell or an exec on a channel that has its shell, opens no second console, and keeps serving', async () => {
    const agent = await ScriptedAgent.start(relay.url, adminToken, [{ id: 'ssh-twice-1', name: 'ssh-twice-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const key = keygen('twice', 'ed25519');
      expect((await call('POST', '/v1/me/ssh-keys', operatorToken, { publicKey: key.publicKey })).status).toBe(201);
      const client = await connectWith(key.privateKey, 'ssh-twice-1');
      try {
        const channel = await shellOf(client);
        channel.resume();
        await agent.until(() => agent.legs.find((leg) => leg.sessionId !== undefined), "the console's leg at the agent", 30_000);
        // RFC 4254 §6.5: a session channel runs one shell, command or subsystem; the others are refused.
        expect(await requestAgain(client, channel, 'shell')).toBe(false);
        expect(await requestAgain(client, channel, 'exec')).toBe(false);
        // Another connection is served, and lists what the key may open: the refusals above left the relay whole.
        const other = await connectWith(key.privateKey, 'operator');
        try {
          const listed = await drain(await shellOf(other));
          expect(listed).toMatchObject({ code: 0, stdout: expect.stringContaining('ssh-twice-1') });
        } finally {
          other.end();
        }
        expect((await relay.app.inject({ url: '/healthz' })).statusCode).toBe(200);
        expect(agent.requests.filter((request) => request.op === 'stream.open')).toHaveLength(1);
        expect(unhandled).toEqual([]);
      } finally {
        client.end();
      }
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await agent.stop();
    }
  }, 60_000);
});

/** Resolves with the time the connection closed, or undefined if it is still open after `withinMs`. */
function closedWithin(client: ssh2.Client, withinMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), withinMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now());
    });
  });
}

async function userWithKey(username: string, role: 'operator' | 'viewer' = 'operator') {
  const password = `${username}-password-123`;
  const user = await createUser(relay.app.store, { tenant: 'demo', username, password, role });
  const key = keygen(username, 'ed25519');
  expect((await call('POST', '/v1/me/ssh-keys', (await loginWithPassword(relay.url, username, password)).accessToken, { publicKey: key.publicKey })).status).toBe(201);
  return { user, key };
}

describe('a live SSH connection whose access changed', () => {
  it('ends as a whole within a second when its user is disabled, not only its console', async () => {
    const agent = await ScriptedAgent.start(relay.url, adminToken, [{ id: 'ssh-revoke-1', name: 'ssh-revoke-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    try {
      const { user, key } = await userWithKey('ssh-revoked');
      const client = await connectWith(key.privateKey, 'ssh-revoke-1');
      try {
        (await shellOf(client)).resume();
        await agent.until(() => agent.legs.length > 0 || undefined, "the console's leg at the agent", 30_000);
        const closed = closedWithin(client, 5000);
        expect((await call('PATCH', `/v1/users/${user.id}`, adminToken, { disabled: true })).status).toBe(200);
        const answered = performance.now();
        const at = await closed;
        expect(at, 'the SSH connection to be closed by the relay').toBeDefined();
        expect(at! - answered).toBeLessThanOrEqual(1000);
      } finally {
        client.end();
      }
    } finally {
      await agent.stop();
    }
  }, 60_000);

  it('ends when its user is demoted, so no new console opens with the old role', async () => {
    const { user, key } = await userWithKey('ssh-demoted');
    const client = await connectWith(key.privateKey, 'ssh-demoted');
    try {
      expect((await drain(await shellOf(client))).code).toBe(0);
      const closed = closedWithin(client, 5000);
      expect((await call('PATCH', `/v1/users/${user.id}`, adminToken, { role: 'viewer' })).status).toBe(200);
      expect(await closed, 'the SSH connection to be closed by the relay').toBeDefined();
    } finally {
      client.end();
    }
  }, 60_000);

  it('opens nothing more once its key is gone from the store, even unannounced (removed through another replica)', async () => {
    const { key } = await userWithKey('ssh-unkeyed');
    const client = await connectWith(key.privateKey, 'ssh-unkeyed');
    try {
      expect((await drain(await shellOf(client))).code).toBe(0);
      // Straight from the table: no revocation notice reaches this relay.
      await relay.app.store.deleteFrom('ssh_keys').where('fingerprint', '=', key.fingerprint).execute();
      const refused = await drain(await shellOf(client));
      expect(refused).toMatchObject({ code: 3, stderr: expect.stringContaining('FORBIDDEN') });
      expect(refused.stdout).toBe('');
    } finally {
      client.end();
    }
  }, 60_000);

  it('opens nothing more once the certificate that opened it has expired', async () => {
    const { user, key } = await userWithKey('ssh-certified');
    await relay.app.store.deleteFrom('ssh_keys').where('fingerprint', '=', key.fingerprint).execute();
    const issuedAt = Math.floor(Date.now() / 1000);
    const validBefore = issuedAt + 3;
    const certificate = signCertificate({ publicKey: key.publicKey, keyId: `lightsout:demo:${user.id}`, principals: ['ssh-certified'], validAfter: issuedAt - 1, validBefore, serial: 77n }, (await loadUserCa(relay.app.store)).privateKey);
    writeFileSync(`${key.privateKey}-cert.pub`, `${certificate}\n`);
    const hostKey = (await call('GET', '/v1/ssh/host-key', undefined)).body as { publicKey: string; port: number };
    const knownHosts = join(directory, 'known_hosts-cert');
    writeFileSync(knownHosts, `[127.0.0.1]:${hostKey.port} ${hostKey.publicKey}\n`);
    const control = join(directory, 'control-cert');
    const common = ['-F', '/dev/null', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-S', control, '-p', String(hostKey.port)];
    // One connection (a ControlMaster), sessions over it later: OpenSSH authenticates once.
    const master = spawn('ssh', [...common, '-M', '-N', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-i', key.privateKey, 'ssh-certified@127.0.0.1'], { stdio: 'ignore' });
    const session = async () => {
      const child = spawn('ssh', [...common, '-o', 'ControlMaster=no', '-T', 'ssh-certified@127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.resume();
      const [status] = (await once(child, 'exit')) as [number | null];
      return { status, stderr };
    };
    try {
      await waitFor('the master connection', async () => (await session()).status === 0, { intervalMs: 200 });
      await waitFor('the certificate to expire', () => Date.now() / 1000 > validBefore + 1, { intervalMs: 100 });
      const after = await session();
      expect(after).toMatchObject({ status: 3, stderr: expect.stringContaining('FORBIDDEN') });
    } finally {
      master.kill('SIGTERM');
    }
  }, 60_000);
});

/**
 * Console output from the agent's end of a leg as the real agent sends it:
 * within the stream window (StreamLimits.windowBytes), sending more only as
 * the client's acks (forwarded by the relay) free it.
 */
function pushWithinWindow(leg: ScriptedLeg, chunks: number, chunkBytes: number, windowBytes: number) {
  const digest = createHash('sha256');
  const state = { sent: 0, acknowledged: 0, blockedAt: undefined as number | undefined };
  let next = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const pump = () => {
    while (next < chunks && state.sent - state.acknowledged + chunkBytes <= windowBytes) {
      const chunk = Buffer.alloc(chunkBytes, next % 251);
      chunk.writeUInt32BE(next, 0);
      digest.update(chunk);
      leg.socket.send(chunk, { binary: true });
      state.sent += chunkBytes;
      next += 1;
    }
    state.blockedAt = next < chunks ? (state.blockedAt ?? performance.now()) : undefined;
    if (next === chunks) finish();
  };
  leg.socket.on('message', (data, binary) => {
    if (binary) return;
    const message = JSON.parse(data.toString()) as { type: string; offset?: number };
    if (message.type === 'ack' && message.offset !== undefined && message.offset > state.acknowledged) {
      state.acknowledged = message.offset;
      state.blockedAt = undefined;
      pump();
    }
  });
  // Before the relay splices the leg it reads nothing from it: what is sent now waits in TCP, in order.
  pump();
  return { state, finished, digest: () => digest.digest('hex') };
}

describe('an SSH client that stops reading', () => {
  it('holds the agent back within one stream window instead of buffering its output, and gets every byte once it reads again', async () => {
    const agent = await ScriptedAgent.start(relay.url, adminToken, [{ id: 'ssh-flood-1', name: 'ssh-flood-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    try {
      const { key } = await userWithKey('ssh-slow-reader');
      const client = await connectWith(key.privateKey, 'ssh-flood-1');
      try {
        const channel = await shellOf(client);
        // Reads nothing: ssh2 stops opening the channel's window (RFC 4254 §5.2), so the relay's writes back up.
        channel.pause();
        channel.stderr.resume();
        const leg = await agent.until(() => agent.legs.find((candidate) => candidate.sessionId !== undefined), "the console's leg at the agent", 30_000);
        const chunks = 640;
        const chunkBytes = 64 * 1024;
        const windowBytes = 8 * 1024 * 1024;
        const pusher = pushWithinWindow(leg, chunks, chunkBytes, windowBytes);
        // The relay stops acknowledging: the agent is held at its window, with nothing acknowledged for a while.
        await expect.poll(() => pusher.state.blockedAt !== undefined && performance.now() - pusher.state.blockedAt >= 1000, { timeout: 30_000, interval: 50, message: `the agent held at its window, not acknowledged further (${JSON.stringify(pusher.state)})` }).toBe(true);
        console.log(`client not reading: the agent sent ${(pusher.state.sent / 2 ** 20).toFixed(1)} MiB of ${(chunks * chunkBytes) / 2 ** 20} MiB, ${(pusher.state.acknowledged / 2 ** 20).toFixed(1)} MiB acknowledged`);
        expect(pusher.state.acknowledged).toBeLessThanOrEqual(8 * 1024 * 1024);
        expect(pusher.state.sent).toBeLessThanOrEqual(pusher.state.acknowledged + windowBytes);
        const received = createHash('sha256');
        let receivedBytes = 0;
        channel.on('data', (chunk: Buffer) => {
          received.update(chunk);
          receivedBytes += chunk.length;
        });
        channel.resume();
        await pusher.finished;
        await expect.poll(() => receivedBytes, { timeout: 60_000, interval: 50 }).toBe(chunks * chunkBytes);
        expect(received.digest('hex')).toBe(pusher.digest());
      } finally {
        client.end();
      }
    } finally {
      await agent.stop();
    }
  }, 120_000);
});

describe('a server of another tenant', () => {
  it('is refused and audited exactly like a server that does not exist, even while its console is live', async () => {
    const agent = await ScriptedAgent.start(relay.url, adminToken, [{ id: 'ssh-secret-1', name: 'ssh-secret-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    try {
      const { key } = await userWithKey('ssh-owner');
      const owner = await connectWith(key.privateKey, 'ssh-secret-1');
      try {
        (await shellOf(owner)).resume();
        await agent.until(() => agent.legs.length > 0 || undefined, "the owner's console leg at the agent", 30_000);
        await ensureTenant(relay.app.store, 'other', 'Other');
        const stranger = await createUser(relay.app.store, { tenant: 'other', username: 'ssh-stranger', password: 'ssh-stranger-password-123', role: 'tenant-admin' });
        const strangerKey = keygen('ssh-stranger', 'ed25519');
        expect((await call('POST', '/v1/me/ssh-keys', (await loginWithPassword(relay.url, 'ssh-stranger', 'ssh-stranger-password-123')).accessToken, { publicKey: strangerKey.publicKey })).status).toBe(201);
        const answers = [];
        for (const serverId of ['ssh-secret-1', 'ssh-nothing-1']) {
          const client = await connectWith(strangerKey.privateKey, serverId);
          try {
            answers.push(await drain(await shellOf(client)));
          } finally {
            client.end();
          }
        }
        expect(answers.map((answer) => answer.code)).toEqual([4, 4]);
        expect(answers[0]!.stderr.replace('ssh-secret-1', 'ID')).toBe(answers[1]!.stderr.replace('ssh-nothing-1', 'ID'));
        const rows = await relay.app.store.selectFrom('audit').select(['action', 'outcome', 'tenant_id', 'target', 'details']).where('subject', '=', stranger.id).where('action', 'like', 'session.%').orderBy('seq').execute();
        const comparable = rows.map((row) => ({ ...row, target: row.target?.replace(/ssh-(secret|nothing)-1/, 'ID') }));
        expect(comparable).toHaveLength(2);
        expect(comparable[0]).toEqual(comparable[1]);
        expect(comparable[0]).toMatchObject({ action: 'session.open', outcome: 'denied', tenant_id: 'other' });
      } finally {
        owner.end();
      }
    } finally {
      await agent.stop();
    }
  }, 60_000);
});

describe("an SSH key's last use", () => {
  it('is recorded only for a verified signature, not for a client that merely offers the public key', async () => {
    const { key } = await userWithKey('ssh-offered');
    const token = (await loginWithPassword(relay.url, 'ssh-offered', 'ssh-offered-password-123')).accessToken;
    // An agent holding the public key only: it offers it (RFC 4252 §7 query), then cannot sign.
    class PublicKeyOnly extends ssh2.BaseAgent<string> {
      getIdentities(callback: (error: Error | undefined, keys?: string[]) => void): void {
        callback(undefined, [key.publicKey]);
      }
      sign(_key: string, _data: Buffer, ...rest: unknown[]): void {
        (rest.at(-1) as (error: Error) => void)(new Error('no private key here'));
      }
    }
    const port = ((await call('GET', '/v1/ssh/host-key', undefined)).body as { port: number }).port;
    const client = new ssh2.Client();
    const errors: string[] = [];
    client.on('error', (error: Error) => errors.push(error.message));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    let offered = false;
    client.connect({ host: '127.0.0.1', port, username: 'ssh-offered', agent: new PublicKeyOnly(), readyTimeout: 10_000, debug: (line) => (offered ||= line.includes('Agent: Trying key')) });
    await closed;
    expect(errors).toContain('All configured authentication methods failed');
    expect(offered).toBe(true);
    const listed = (await call('GET', '/v1/me/ssh-keys', token)).body as { keys: Array<{ lastUsedAt: string | null }> };
    expect(listed.keys).toMatchObject([{ lastUsedAt: null }]);
    // A real login records it.
    const real = await connectWith(key.privateKey, 'ssh-offered');
    real.end();
    await waitFor('the key marked used', async () => ((await call('GET', '/v1/me/ssh-keys', token)).body as { keys: Array<{ lastUsedAt: string | null }> }).keys[0]!.lastUsedAt !== null);
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
