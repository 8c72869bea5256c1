import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import type { SessionCreated, StreamSocketEvents } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../identity/verifier.js';
import { generateEd25519Key } from './ed25519-key.js';
import { type ConsoleOpening, type FrontDoorDependencies, type KeyHolder, SshFrontDoor } from './front-door.js';
import type { HostKey } from './host-key.js';

/**
 * The front door on its own, with the relay's side (key lookup, console
 * opening, the stream plane's socket) faked: what a connection may do
 * before it authenticates, and a console that opens after its client left.
 */
const log = { warn: () => undefined, error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as FastifyBaseLogger;
const hostKey = { privateKey: generateEd25519Key().private } as HostKey;
const open: SshFrontDoor[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((frontDoor) => frontDoor.close()));
});

async function startFrontDoor(overrides: Partial<FrontDoorDependencies>): Promise<{ frontDoor: SshFrontDoor; port: number }> {
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
  return { frontDoor, port: await frontDoor.listen(0, '127.0.0.1') };
}

/** A TCP connection that says nothing after the server's identification line (RFC 4253 §4.2), from `localAddress`. */
async function idleConnection(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
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
