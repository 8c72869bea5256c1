import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { STREAM_SUBPROTOCOL, StreamLimits } from '@lightsout/shared';
import { SignJWT, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { StreamTokens } from '@lightsout/relay/parts';
import { startSourceSinkServer, startEchoServer } from '../src/bmc-peers.js';
import { type StreamChain, startStreamChain } from '../src/stream-chain.js';
import { until } from '@lightsout/lab/wait';

/**
 * Who may open, join, resume and dial back, and what hostile input does:
 * every refusal is checked at the wire (HTTP status before the upgrade, or
 * the close code), against the real relay plugin and agent stream plane.
 */
const users = {
  alice: { subject: 'u-alice', username: 'alice', tenant: 'acme', role: 'operator' as const },
  vera: { subject: 'u-vera', username: 'vera', tenant: 'acme', role: 'viewer' as const },
  eve: { subject: 'u-eve', username: 'eve', tenant: 'evil', role: 'tenant-admin' as const },
};

/** Open a raw data connection; resolves with the HTTP status of a refused upgrade, or the open socket. */
function rawConnect(url: string, token: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; socket?: WebSocket }> {
  return new Promise((resolve) => {
    const protocols = token === undefined ? [STREAM_SUBPROTOCOL] : [STREAM_SUBPROTOCOL, `bearer.${token}`];
    const socket = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    socket.on('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
      response.resume();
      socket.terminate();
    });
    socket.on('error', () => {});
    socket.once('open', () => resolve({ status: 101, socket }));
  });
}

function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

describe('stream plane security and hostile input', () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let source: Awaited<ReturnType<typeof startSourceSinkServer>>;
  let badRfb: Server;
  let badRfbPort = 0;
  let chain: StreamChain;
  const serial = (id: string, tenant: string, port: number) => ({ id, name: id, tenant, rack: 'r1', labels: {}, serial: { url: `tcp://127.0.0.1:${port}` } });

  beforeAll(async () => {
    echo = await startEchoServer();
    source = await startSourceSinkServer(64 * 1024 * 1024);
    // A "BMC" whose RFB greeting is garbage.
    badRfb = createServer((socket) => {
      socket.on('error', () => {});
      socket.end('RFB 003.00x\nnot-rfb-at-all');
    });
    await new Promise<void>((resolve) => badRfb.listen(0, '127.0.0.1', () => resolve()));
    badRfbPort = (badRfb.address() as { port: number }).port;
    chain = await startStreamChain({
      users,
      agents: {
        'agent-a': [
          serial('web-01', 'acme', echo.port),
          serial('flood-01', 'acme', source.port),
          { id: 'vnc-bad', name: 'vnc-bad', tenant: 'acme', rack: 'r1', labels: {}, vnc: { url: `vnc://127.0.0.1:${badRfbPort}` } },
        ],
        'agent-b': [serial('evil-01', 'evil', echo.port)],
      },
    });
  }, 30_000);
  afterAll(async () => {
    await chain?.close();
    await echo?.close();
    await source?.close();
    await new Promise<void>((resolve) => badRfb?.close(() => resolve()));
  });

  it('never shows one tenant another tenant’s server, and viewers cannot take control', async () => {
    await expect(chain.createSession('eve', 'web-01', 'serial')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(chain.createSession('alice', 'evil-01', 'serial')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(chain.createSession('vera', 'web-01', 'serial', 'control')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(chain.createSession('alice', 'web-01', 'vnc')).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED' });
    await expect(chain.createSession('nobody', 'web-01', 'serial')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a token used for another session (tenant A’s token on tenant B’s session)', async () => {
    const theirs = await chain.createSession('eve', 'evil-01', 'serial');
    const mine = await chain.createSession('alice', 'web-01', 'serial');
    expect((await rawConnect(theirs.streamUrl, mine.token)).status).toBe(403);
    expect((await rawConnect(mine.streamUrl, theirs.token)).status).toBe(403);
  });

  it('the route answers where the session\'s agent is, to that session\'s stream token only (never spent)', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const theirs = await chain.createSession('eve', 'evil-01', 'serial');
    expect(session.routeUrl).toBe(`${chain.relayUrl}/v1/streams/${session.sessionId}/route`);
    const ask = (token: string | undefined) => fetch(session.routeUrl!, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
    const answer = await ask(session.token);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ streamUrl: session.streamUrl });
    expect((await ask(undefined)).status).toBe(401);
    expect((await ask(theirs.token)).status).toBe(403);
    expect((await ask('alice')).status).toBe(401);
    // Asking did not spend the connect token.
    const leg = await rawConnect(session.streamUrl, session.token);
    expect(leg.status).toBe(101);
    leg.socket!.close(1000);
  });

  it('refuses a replayed connect token, a missing one, and one signed by another key', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const first = await rawConnect(session.streamUrl, session.token);
    expect(first.status).toBe(101);
    expect((await rawConnect(session.streamUrl, session.token)).status).toBe(401);
    expect((await rawConnect(session.streamUrl, undefined)).status).toBe(401);
    const [header, payload] = session.token.split('.');
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await new SignJWT(JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>)
      .setProtectedHeader(JSON.parse(Buffer.from(header!, 'base64url').toString()) as { alg: string })
      .sign(await importJWK(privateKey.export({ format: 'jwk' }) as JWK, 'EdDSA'));
    expect((await rawConnect(session.streamUrl, forged)).status).toBe(401);
    first.socket!.close(1000);
  });

  it('refuses a connect token replayed after the relay restarted: it was spent in the store, not in memory', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    // Spliced, so the token is spent for good (a connect that fails before the splice gives it back).
    const client = chain.connect(session, { onData: () => {} });
    await until(() => client.state === 'streaming', 5000, 'streaming');
    await chain.restartRelay();
    expect((await rawConnect(session.streamUrl, session.token)).status).toBe(401);
    client.close();
    const fresh = await chain.createSession('alice', 'web-01', 'serial');
    const again = await rawConnect(fresh.streamUrl, fresh.token);
    expect(again.status).toBe(101);
    again.socket!.close(1000);
  });

  it('sends the resume token as a leg’s first message, so a client that saw any console byte can come back', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const leg = await rawConnect(session.streamUrl, session.token);
    const [first, binary] = (await once(leg.socket!, 'message')) as [Buffer, boolean];
    expect(binary).toBe(false);
    expect(JSON.parse(first.toString('utf8'))).toMatchObject({ type: 'token', token: expect.any(String) });
    leg.socket!.close(1000);
  });

  it('refuses an expired token and a token for another gateway audience', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const grant = { sessionId: session.sessionId, serverId: 'web-01', tenant: 'acme', kind: 'serial' as const, mode: 'control' as const, agentId: 'agent-a', subject: 'u-alice', user: 'alice' };
    const past = await StreamTokens.load({ documents: chain.keys, issuer: chain.relayUrl, audience: `${chain.relayUrl}/v1/streams`, now: () => Date.now() - 10 * 60_000 });
    const expired = await past.issue(grant, 'connect');
    const response = await rawConnect(session.streamUrl, expired.token);
    expect(response.status).toBe(401);
    const otherGateway = await StreamTokens.load({ documents: chain.keys, issuer: chain.relayUrl, audience: 'https://gateway.elsewhere/v1/streams' });
    expect((await rawConnect(session.streamUrl, (await otherGateway.issue(grant, 'connect')).token)).status).toBe(401);
  });

  it('refuses a resume with a token of another kind, server or user for the same session', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const client = chain.connect(session, { onData: () => {} });
    await until(() => client.state === 'streaming', 5000, 'streaming');
    const tokens = chain.relay.streams.tokens;
    const base = { sessionId: session.sessionId, serverId: 'web-01', tenant: 'acme', kind: 'serial' as const, mode: 'control' as const, agentId: 'agent-a', subject: 'u-alice', user: 'alice' };
    for (const [change, expected] of [
      [{ kind: 'vnc' as const }, 4403],
      [{ subject: 'u-mallory' }, 4403],
      [{ serverId: 'flood-01' }, 4403],
    ] as const) {
      const { token } = await tokens.issue({ ...base, ...change }, 'resume');
      const attempt = await rawConnect(session.streamUrl, token);
      expect(attempt.status).toBe(101);
      expect((await closeOf(attempt.socket!)).code, JSON.stringify(change)).toBe(expected);
    }
    // A resume token for a session the agent does not hold is NOT_FOUND, not a new session.
    const ghost = await tokens.issue({ ...base, sessionId: 'AAAAAAAAAAAAAAAAAAAAAA' }, 'resume');
    const ghostAttempt = await rawConnect(`${chain.relayUrl.replace('http', 'ws')}/v1/streams/AAAAAAAAAAAAAAAAAAAAAA`, ghost.token);
    expect((await closeOf(ghostAttempt.socket!)).code).toBe(4404);
    expect(client.state).toBe('streaming');
    client.close();
  });

  it('lets only the assigned agent dial back, with a fresh token, into that session', async () => {
    const legs = chain.relay.streams.legs;
    const sessionId = 'BBBBBBBBBBBBBBBBBBBBBB';
    const pending = legs.expect('agent-a', sessionId, 5000);
    const url = `${chain.relayUrl.replace('http', 'ws')}/v1/agent/streams/${sessionId}?leg=${pending.legId}`;
    const dial = (token: string, target = url) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(target, { headers: { authorization: `Bearer ${token}` } });
        socket.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          socket.terminate();
        });
        socket.on('error', () => {});
        socket.once('open', () => {
          resolve(101);
          socket.terminate();
        });
      });
    const agentA = chain.agents.get('agent-a')!;
    const agentB = chain.agents.get('agent-b')!;
    expect(await dial(await agentB.signJwt())).toBe(403);
    expect(await dial(await agentA.signJwt(), url.replace(sessionId, 'CCCCCCCCCCCCCCCCCCCCCC'))).toBe(403);
    expect(await dial('not-a-jwt')).toBe(401);
    const token = await agentA.signJwt();
    expect(await dial(token)).toBe(101);
    expect(await dial(token)).toBe(401); // replayed agent token (and the leg is taken anyway)
    pending.cancel();
  });

  it('closes a connection that sends an oversize frame or a garbage control message; the session survives for a resume', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const oversize = await rawConnect(session.streamUrl, session.token);
    oversize.socket!.send(JSON.stringify({ type: 'resume', offset: 0 }));
    oversize.socket!.send(Buffer.alloc(StreamLimits.maxDataFrameBytes + 1));
    expect((await closeOf(oversize.socket!)).code).toBe(1009);
    // The agent holds the session for a proper client to resume within the grace period.
    expect(chain.agents.get('agent-a')!.streams.hasSession(session.sessionId)).toBe(true);

    const other = await chain.createSession('alice', 'web-01', 'serial');
    for (const garbage of ['not json', '{"type":"status","mode":"control","controller":null,"members":[]}', '{"type":"token","token":"x","expiresAt":1}', '{"type":"ack","offset":-5}']) {
      const created = await chain.createSession('alice', 'web-01', 'serial');
      const connection = await rawConnect(created.streamUrl, created.token);
      connection.socket!.send(garbage);
      expect((await closeOf(connection.socket!)).code, garbage).toBe(4001);
    }
    // The relay keeps serving: a proper client on the web-01 console still works.
    const client = chain.connect(other, { onData: () => {} });
    await until(() => client.state === 'streaming', 5000, 'streaming');
    client.close();
  });

  it('keeps what is queued for a client that never reads bounded (relay and agent)', async () => {
    const session = await chain.createSession('alice', 'flood-01', 'serial');
    const connection = await rawConnect(session.streamUrl, session.token);
    const socket = connection.socket!;
    let received = 0;
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) received += data.length;
    });
    socket.send(JSON.stringify({ type: 'resume', offset: 0 }));
    // Read a little, never acknowledge, then stop reading altogether.
    await until(() => received > 0, 5000, 'first bytes');
    socket.pause();
    const gateway = chain.relay.streams.gateway as unknown as { live: Set<{ pendingToClient: number }> };
    let maxQueued = 0;
    const deadline = Date.now() + 1500;
    // Sample the relay's per-stream queue for a while; the source could send 64 MiB meanwhile.
    while (Date.now() < deadline) {
      for (const leg of gateway.live) maxQueued = Math.max(maxQueued, leg.pendingToClient);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(maxQueued).toBeLessThanOrEqual(StreamLimits.relayHighWaterBytes + StreamLimits.maxDataFrameBytes);
    // The agent stops reading the BMC once the client's window is full: the source is held back too.
    expect(received).toBeLessThanOrEqual(StreamLimits.windowBytes * 2);
    socket.terminate();
  });

  it('refuses a session whose BMC sends a malformed RFB handshake, and keeps serving', async () => {
    const session = await chain.createSession('alice', 'vnc-bad', 'vnc');
    const connection = await rawConnect(session.streamUrl, session.token);
    const messages: string[] = [];
    connection.socket!.on('message', (data: Buffer, isBinary) => !isBinary && messages.push(data.toString()));
    connection.socket!.send(JSON.stringify({ type: 'resume', offset: 0 }));
    expect((await closeOf(connection.socket!)).code).toBe(4502);
    expect(messages.join()).toMatch(/BMC_(PROTOCOL_ERROR|UNSUPPORTED)/);
  });
});
