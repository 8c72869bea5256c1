import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server as TcpServer, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionCreated, StreamSocketEvents } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/audit.js';
import type { Principal } from '../identity/verifier.js';
import { generateEd25519Key } from './ed25519-key.js';
import { type ConsoleOpening, type FrontDoorDependencies, type KeyHolder, SshFrontDoor } from './front-door.js';
import type { HostKey } from './host-key.js';
import { fingerprintOf } from './public-keys.js';

/**
 * The front door on its own, with the relay's side (key lookup, console
 * opening, the stream plane's socket) faked: what a connection may do
 * before it authenticates, and a console that opens after its client left.
 */
const log = { warn: () => undefined, error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as FastifyBaseLogger;
const hostKeyPair = generateEd25519Key();
const hostKey = { privateKey: hostKeyPair.private } as HostKey;
const open: SshFrontDoor[] = [];
const sockets: Socket[] = [];
const listeners: TcpServer[] = [];
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-front-door-'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((frontDoor) => frontDoor.close()));
  await Promise.all(listeners.splice(0).map((listener) => new Promise((resolve) => listener.close(resolve))));
});

async function startFrontDoor(overrides: Partial<FrontDoorDependencies>, host = '127.0.0.1'): Promise<{ frontDoor: SshFrontDoor; port: number }> {
  const frontDoor = new SshFrontDoor({
    hostKey,
    failedAuthPerAddress: { perSecond: 1, burst: 100 },
    preAuth: { loginGraceMs: 30_000, perAddress: 10, total: 100 },
    holderOf: async () => undefined,
    keyUsed: async () => undefined,
    holderOfCertificate: async () => undefined,
    openConsole: () => Promise.reject(new Error('no consoles here')),
    listConsoles: async () => [],
    holderNow: async (holder) => holder,
    onRevocation: () => () => undefined,
    audit: () => undefined,
    log,
    socket: () => ({ send: () => undefined, close: () => undefined }),
    setTimer: (callback, ms) => {
      const timer = setTimeout(callback, ms);
      return () => clearTimeout(timer);
    },
    ...overrides,
  });
  open.push(frontDoor);
  return { frontDoor, port: await frontDoor.listen(0, host) };
}

/** A TCP connection that says nothing after the server's identification line (RFC 4253 §4.2), from `localAddress`. */
async function idleConnection(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<number> }> {
  return idle(connect({ host: '127.0.0.1', port, localAddress }));
}

/**
 * A TCP connection the front door sees as coming from `remoteAddress` (the
 * loopback has no IPv6 /64 to connect from): a real connection whose
 * accepted end is handed to the front door's listener with that peer
 * address. Returns the client's end.
 */
async function connectionFrom(frontDoor: SshFrontDoor, remoteAddress: string): Promise<Socket> {
  const acceptor = createServer();
  listeners.push(acceptor);
  await new Promise<void>((resolve) => acceptor.listen(0, '127.0.0.1', resolve));
  const accepted = once(acceptor, 'connection') as Promise<[Socket]>;
  const client = connect({ host: '127.0.0.1', port: (acceptor.address() as { port: number }).port });
  sockets.push(client);
  const [socket] = await accepted;
  sockets.push(socket);
  Object.defineProperty(socket, 'remoteAddress', { value: remoteAddress });
  (frontDoor as unknown as { listener: TcpServer }).listener.emit('connection', socket);
  return client;
}

async function idleConnectionFrom(frontDoor: SshFrontDoor, remoteAddress: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  return idle(await connectionFrom(frontDoor, remoteAddress));
}

/** Waits for the server's identification line on `socket` (or its drop), then says nothing. */
async function idle(socket: Socket): Promise<{ socket: Socket; closed: Promise<number> }> {
  sockets.push(socket);
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => performance.now());
  let received = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) resolve();
    });
    // Dropped before (or instead of) identifying itself.
    void closed.then(() => resolve());
  });
  return { socket, closed };
}

/** Whether the connection was dropped within `withinMs` (undefined: still open then). */
function closedWithin(closed: Promise<number>, withinMs: number): Promise<number | undefined> {
  return Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(resolve, withinMs, undefined))]);
}

describe('before authentication', () => {
  it('drops a connection that has not authenticated within the login grace time', async () => {
    const { port } = await startFrontDoor({ preAuth: { loginGraceMs: 300, perAddress: 10, total: 100 } });
    const started = performance.now();
    const { closed } = await idleConnection(port);
    const at = await closedWithin(closed, 5000);
    expect(at, 'the idle connection to be dropped').toBeDefined();
    expect(at! - started).toBeLessThan(3000);
  }, 20_000);

  it('drops at once a connection over the unauthenticated limit of its address or of the server, and takes one again when a place frees', async () => {
    const { frontDoor, port } = await startFrontDoor({ preAuth: { loginGraceMs: 30_000, perAddress: 2, total: 3 } });
    const first = await idleConnection(port, '127.0.0.1');
    await idleConnection(port, '127.0.0.1');
    // A third from the same address: over its limit.
    const sameAddress = await idleConnection(port, '127.0.0.1');
    expect(await closedWithin(sameAddress.closed, 2000), 'the third connection of one address to be dropped').toBeDefined();
    await idleConnection(port, '127.0.0.2');
    // A fourth from yet another address: over the server's limit.
    const overTotal = await idleConnection(port, '127.0.0.3');
    expect(await closedWithin(overTotal.closed, 2000), 'a connection over the total to be dropped').toBeDefined();
    expect(frontDoor.counts().unauthenticated).toBe(3);
    first.socket.destroy();
    await expect.poll(() => frontDoor.counts().unauthenticated, { timeout: 5000 }).toBe(2);
    const again = await idleConnection(port, '127.0.0.3');
    expect(await closedWithin(again.closed, 500), 'a connection within the limits to stay').toBeUndefined();
  }, 20_000);

  it('counts the addresses of one IPv6 /64 as one address (RFC 6177)', async () => {
    const { frontDoor } = await startFrontDoor({ preAuth: { loginGraceMs: 30_000, perAddress: 2, total: 100 } });
    await idleConnectionFrom(frontDoor, '2001:db8:7:8::1');
    await idleConnectionFrom(frontDoor, '2001:db8:7:8::2');
    const sameSubnet = await idleConnectionFrom(frontDoor, '2001:db8:7:8:ffff:ffff:ffff:ffff');
    expect(await closedWithin(sameSubnet.closed, 2000), 'a third connection from the same /64 to be dropped').toBeDefined();
    const otherSubnet = await idleConnectionFrom(frontDoor, '2001:db8:7:9::1');
    expect(await closedWithin(otherSubnet.closed, 500), 'a connection from another /64 to stay').toBeUndefined();
    expect(frontDoor.counts().unauthenticated).toBe(3);
  }, 20_000);

  it('draws failed authentications of one IPv6 /64 from one budget', async () => {
    const audits: AuditEvent[] = [];
    const { frontDoor } = await startFrontDoor({ failedAuthPerAddress: { perSecond: 0.001, burst: 2 }, audit: (event) => void audits.push(event) });
    // Three clients of one /64, each offering one unregistered key: one failure each.
    for (const [index, address] of ['2001:db8:a:b::1', '2001:db8:a:b::2', '2001:db8:a:b::3'].entries()) {
      const client = new ssh2.Client();
      client.on('error', () => undefined);
      client.connect({ sock: await connectionFrom(frontDoor, address), username: 'alice', privateKey: generateEd25519Key().private });
      // Its refusal is audited when the server side closes: the next client comes after it.
      await expect.poll(() => audits.length, { timeout: 5000 }).toBe(index + 1);
    }
    expect(audits.map((event) => [event.sourceIp, (event.details as { reason: string }).reason])).toEqual([
      ['2001:db8:a:b::1', 'no registered key'],
      ['2001:db8:a:b::2', 'no registered key'],
      ['2001:db8:a:b::3', 'too many failed authentications from this address'],
    ]);
  }, 20_000);

  it('counts IPv4 clients of a dual-stack listener (::ffff:a.b.c.d) each by its own address, not as one /64', async () => {
    const { frontDoor, port } = await startFrontDoor({ preAuth: { loginGraceMs: 30_000, perAddress: 1, total: 100 } }, '::');
    await idleConnection(port, '127.0.0.1');
    const again = await idleConnection(port, '127.0.0.1');
    expect(await closedWithin(again.closed, 2000), 'a second connection of one IPv4 address to be dropped').toBeDefined();
    const other = await idleConnection(port, '127.0.0.2');
    expect(await closedWithin(other.closed, 500), 'another IPv4 address to have its own place').toBeUndefined();
    expect(frontDoor.counts().unauthenticated).toBe(2);
  }, 20_000);
});

describe('a console that opens after its client left', () => {
  it('is left at once, so no console leg outlives the connection', async () => {
    const userPrivateKey = generateEd25519Key().private;
    const userKey = ssh2.utils.parseKey(userPrivateKey);
    if (userKey instanceof Error || Array.isArray(userKey)) throw new Error('test key');
    const principal: Principal = { subject: 'u1', username: 'alice', tenant: 'demo', role: 'operator', issuer: 'test', expiresAt: Math.floor(Date.now() / 1000) + 60, authTime: Math.floor(Date.now() / 1000), amr: ['pop'], kind: 'user' };
    const holder: KeyHolder = { keyId: 'k1', publicKey: `ssh-ed25519 ${userKey.getPublicSSH().toString('base64')}`, principal };
    let resolveOpening!: (opening: ConsoleOpening) => void;
    const opening = new Promise<ConsoleOpening>((resolve) => (resolveOpening = resolve));
    const legs: Array<{ closedWith: number | undefined }> = [];
    const { frontDoor, port } = await startFrontDoor({
      holderOf: async () => holder,
      openConsole: () => opening,
      socket: (_url: string, _protocols: string[], events: StreamSocketEvents) => {
        const leg = { closedWith: undefined as number | undefined };
        legs.push(leg);
        setImmediate(() => events.open());
        return {
          send: () => undefined,
          close: (code?: number) => {
            leg.closedWith = code;
            setImmediate(() => events.close(code ?? 1005, ''));
          },
        };
      },
    });
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject);
      client.connect({ host: '127.0.0.1', port, username: 'sim-01', privateKey: userPrivateKey });
    });
    client.end();
    await expect.poll(() => frontDoor.counts().connections, { timeout: 5000 }).toBe(0);
    const session: SessionCreated = { sessionId: 'ses_late', streamUrl: 'ws://127.0.0.1:1/v1/streams/ses_late', token: 't', expiresAt: new Date(Date.now() + 60_000).toISOString(), serverId: 'sim-01', kind: 'sol', mode: 'control', routeUrl: 'http://127.0.0.1:1/v1/streams/ses_late/route' };
    resolveOpening({ session, streamUrl: session.streamUrl, breakSupported: true });
    await expect.poll(() => legs.length, { timeout: 5000 }).toBe(1);
    // 1000: the client left (console-channel.ts), so the relay and the agent end the session now.
    await expect.poll(() => legs[0]!.closedWith, { timeout: 5000 }).toBe(1000);
  }, 20_000);
});

describe('RSA user signatures (RFC 8332)', () => {
  const principal: Principal = { subject: 'u2', username: 'alice', tenant: 'demo', role: 'operator', issuer: 'test', expiresAt: Math.floor(Date.now() / 1000) + 60, authTime: Math.floor(Date.now() / 1000), amr: ['pop'], kind: 'user' };

  /** An RSA key made by ssh-keygen: its private key file, `ssh-rsa base64`, and its fingerprint as ssh-keygen prints it. */
  function rsaKey(name: string): { privateKey: string; publicKey: string; fingerprint: string } {
    const privateKey = join(directory, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', `${name}@host`, '-f', privateKey]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${privateKey}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' '), fingerprint };
  }

  /** OpenSSH's `ssh -T alice@front-door` with one key and `options` (ssh keeps the first value given, so these win): alice is the key's own user, so a login lists her consoles. */
  async function openSsh(port: number, privateKey: string, options: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const knownHosts = join(directory, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyPair.public}\n`);
    const child = spawn('ssh', ['-F', '/dev/null', '-T', ...options, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', privateKey, '-p', String(port), 'alice@127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [status] = (await once(child, 'exit')) as [number | null];
    return { status, stdout, stderr };
  }

  const sha1Refused = 'RSA signature with SHA-1 (ssh-rsa) refused: sign with rsa-sha2-256 or rsa-sha2-512 (RFC 8332)';

  it('accepts a registered RSA key signing with rsa-sha2-256, and refuses it signing with SHA-1 (ssh-rsa), audited', async () => {
    const key = rsaKey('rsa-user');
    const audits: AuditEvent[] = [];
    const used: string[] = [];
    const { port } = await startFrontDoor({
      holderOf: async (fingerprint) => (fingerprint === key.fingerprint ? { keyId: 'k-rsa', publicKey: key.publicKey, principal } : undefined),
      keyUsed: async (fingerprint) => void used.push(fingerprint),
      audit: (event) => void audits.push(event),
    });
    const sha256 = await openSsh(port, key.privateKey, ['-o', 'PubkeyAcceptedAlgorithms=rsa-sha2-256']);
    expect(sha256, sha256.stderr).toMatchObject({ status: 0, stdout: 'Consoles this key may open (ssh <server>@host, or <server>+view@host to watch):\r\n  (none)\r\n' });
    expect(used).toEqual([key.fingerprint]);

    const sha1 = await openSsh(port, key.privateKey, ['-o', 'PubkeyAcceptedAlgorithms=ssh-rsa']);
    expect(sha1.status).toBe(255);
    expect(sha1.stderr).toContain('Permission denied (publickey)');
    await expect.poll(() => audits.filter((event) => event.outcome === 'denied'), { timeout: 5000 }).toEqual([{ action: 'ssh.connect', outcome: 'denied', sourceIp: '127.0.0.1', details: { fingerprints: [key.fingerprint], reason: sha1Refused } }]);
    expect(used, 'a refused signature is no use of the key').toEqual([key.fingerprint]);
  }, 30_000);

  it('refuses an RSA certificate signing with SHA-1 (ssh-rsa-cert-v01@openssh.com), audited as such', async () => {
    const key = rsaKey('rsa-certified');
    const ca = generateEd25519Key();
    writeFileSync(join(directory, 'ca'), ca.private, { mode: 0o600 });
    execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'ca'), '-I', 'lightsout:demo:u2', '-n', 'alice', '-V', '+1h', `${key.privateKey}.pub`]);
    const certificate = Buffer.from(readFileSync(`${key.privateKey}-cert.pub`, 'utf8').split(' ')[1]!, 'base64');
    const audits: AuditEvent[] = [];
    const { port } = await startFrontDoor({ audit: (event) => void audits.push(event) });
    const sha1 = await openSsh(port, key.privateKey, ['-o', 'PubkeyAcceptedAlgorithms=ssh-rsa-cert-v01@openssh.com', '-o', `CertificateFile=${key.privateKey}-cert.pub`]);
    expect(sha1.status).toBe(255);
    expect(sha1.stderr).toContain('Permission denied (publickey)');
    await expect.poll(() => audits, { timeout: 5000 }).toEqual([{ action: 'ssh.connect', outcome: 'denied', sourceIp: '127.0.0.1', details: { fingerprints: [fingerprintOf(certificate)], reason: sha1Refused } }]);
  }, 30_000);

  it('offers only its Ed25519 host key: no ssh-rsa (SHA-1) host key signature', async () => {
    const key = rsaKey('rsa-hostkey-probe');
    const { port } = await startFrontDoor({});
    const probe = await openSsh(port, key.privateKey, ['-o', 'HostKeyAlgorithms=ssh-rsa,rsa-sha2-256,rsa-sha2-512', '-o', 'LogLevel=INFO']);
    expect(probe.status).toBe(255);
    expect(probe.stderr).toMatch(/no matching host key type found\. Their offer: ssh-ed25519\r?\n/);
  }, 30_000);
});
