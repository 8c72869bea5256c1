import { createHash } from 'node:crypto';
import { type SessionCreated, StreamClient } from '@lightsout/shared';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { seededBytes, sha256, startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { eventually, until } from '../lib/processes.js';
import { type Stack, startStack } from '../lib/stack.js';
import { nodeSocketFactory, sessionConnection } from '../lib/stream-socket.js';

/**
 * What each role of a regional deployment does and does not do, as
 * processes on one PostgreSQL store: a manager, two gateways of one region,
 * an agent connected to the first gateway only, serial consoles that echo.
 * A console recorded through one gateway is listed and replayed through the
 * other gateway and the manager (recordings live in the store); a gateway
 * runs no OpenID Provider and verifies the manager's tokens by signature; a
 * manager killed with SIGKILL and restarted does not disturb the consoles
 * spliced at a gateway.
 */
const postgres = postgresForThisFile();
const MANAGER = 0;
const HOLDER = 1;
const OTHER = 2;
const CONSOLES = ['con-01', 'con-02', 'con-03'];

const echoes = new Map<string, Awaited<ReturnType<typeof startSerialWebSocketEcho>>>();
let stack: Stack;

async function api(index: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const response = await fetch(`${stack.relayUrls[index]}${path}`, {
    method,
    headers: { authorization: `Bearer ${await stack.tokenAt(index)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON (a recording download).
  }
  return { status: response.status, body: parsed, text };
}

/** A console opened at the manager, streaming through the gateway that holds the agent. */
async function openConsole(serverId: string): Promise<{ client: StreamClient; session: SessionCreated; output: () => Buffer; states: string[]; closed: () => string | undefined; refused: () => number }> {
  const created = await api(MANAGER, 'POST', `/v1/servers/${serverId}/sessions`, { kind: 'serial' });
  if (created.status !== 201) throw new Error(`session on ${serverId}: ${created.status} ${created.text}`);
  const session = created.body as unknown as SessionCreated;
  const chunks: Buffer[] = [];
  const states: string[] = [];
  let closed: string | undefined;
  let refused = 0;
  const client = new StreamClient({
    ...sessionConnection(session, nodeSocketFactory()),
    onData: (chunk) => chunks.push(Buffer.from(chunk)),
    onState: (state) => states.push(state),
    onClose: (code, reason) => (closed = `${code} ${reason}`),
    onInputRefused: (bytes) => (refused += bytes),
  });
  await until(() => client.state === 'streaming' || closed !== undefined, 30_000, `${serverId}: streaming`);
  expect(closed, serverId).toBeUndefined();
  return { client, session, output: () => Buffer.concat(chunks), states, closed: () => closed, refused: () => refused };
}

describe('roles of a regional deployment (manager + two gateways, processes, PostgreSQL)', () => {
  beforeAll(async () => {
    for (const id of ['rec-01', ...CONSOLES]) echoes.set(id, await startSerialWebSocketEcho());
    stack = await startStack(
      [...echoes].map(([id, echo]) => ({ id, serial: { url: echo.url } })),
      {
        postgresUrl: postgres().url,
        relays: 3,
        agentRelays: [HOLDER],
        roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
      },
    );
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
    for (const echo of echoes.values()) await echo.close();
  });

  it('a console recorded through one gateway is listed and replayed through the other gateway and the manager', { timeout: 90_000 }, async () => {
    const console_ = await openConsole('rec-01');
    expect(console_.session.streamUrl.startsWith(stack.relayUrls[HOLDER]!.replace(/^http/, 'ws'))).toBe(true);
    const typed = 'recorded through gateway one\r\nuptime\r\n';
    console_.client.write(Buffer.from(typed));
    await until(() => console_.output().length >= typed.length, 30_000, 'the echo');
    await console_.client.leave();
    const id = console_.session.sessionId;
    for (const index of [OTHER, MANAGER, HOLDER]) {
      // Stored asynchronously after the bytes passed: wait until this replica lists the recording whole.
      const download = await eventually(`relay ${index} to list and replay the recording`, 30_000, async () => {
        const listed = await api(index, 'GET', '/v1/recordings');
        if (!(listed.body['recordings'] as { id: string }[] | undefined)?.some((recording) => recording.id === id)) return undefined;
        const answer = await api(index, 'GET', `/v1/recordings/${id}`);
        return answer.status === 200 && answer.text.includes('uptime') ? answer : undefined;
      });
      const [header, ...events] = download.text.trim().split('\n');
      expect(JSON.parse(header!)).toMatchObject({ version: 2, title: 'rec-01 serial (operator)' });
      // asciicast v2: the output events, in order, are exactly what the console sent back.
      expect(events.map((line) => (JSON.parse(line) as [number, string, string])[2]).join(''), `relay ${index}`).toBe(typed);
    }
  });

  it('a gateway runs no OpenID Provider: its /oidc and sign-in pages refuse, its pages send people to the deployment URL, and it accepts the manager\'s tokens by signature', { timeout: 60_000 }, async () => {
    const managerIssuer = `${stack.relayUrl}/oidc`;
    const discovery = await fetch(`${stack.relayUrl}/oidc/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(managerIssuer);
    for (const gateway of [HOLDER, OTHER]) {
      const url = stack.relayUrls[gateway]!;
      const attempts = [
        await fetch(`${url}/oidc/.well-known/openid-configuration`),
        await fetch(`${url}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=admin&password=x' }),
        await fetch(`${url}/oidc/auth?client_id=lightsout-web&response_type=code`),
        await fetch(`${url}/interaction/abc/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=x' }),
      ];
      for (const response of attempts) {
        expect(response.status, response.url).toBe(404);
        expect(await response.json(), response.url).toMatchObject({ code: 'NOT_FOUND', details: { issuer: managerIssuer } });
      }
      // A person who opens a gateway's address is sent to the web console at the deployment URL, same path.
      for (const path of ['/', '/servers/abc?tab=console']) {
        const page = await fetch(`${url}${path}`, { redirect: 'manual' });
        expect(page.status, path).toBe(302);
        expect(page.headers.get('location'), path).toBe(`${stack.relayUrl}${path}`);
      }
      const unknownApi = await fetch(`${url}/v1/no-such-route`);
      expect(unknownApi.status).toBe(404);
      expect(await unknownApi.json()).toMatchObject({ code: 'NOT_FOUND' });
      // The web console and the CLI learn where to sign in from any replica.
      const clientConfig = (await (await fetch(`${url}/v1/client-config`)).json()) as { issuer: string };
      expect(clientConfig.issuer).toBe(managerIssuer);
      // A token the manager issued opens the gateway's API.
      const me = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${await stack.tokenAt(MANAGER)}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ username: 'operator', issuer: managerIssuer });
    }
    // One signed with a key the deployment does not have is refused (the gateway re-read the store and found no such key).
    const { privateKey } = await generateKeyPair('EdDSA');
    const forged = await new SignJWT({ tenant: 'demo', role: 'provider-admin', preferred_username: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'not-a-deployment-key', typ: 'at+jwt' })
      .setIssuer(managerIssuer)
      .setAudience(`${stack.relayUrl}/v1`)
      .setSubject('someone')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const refused = await fetch(`${stack.relayUrls[OTHER]}/v1/me`, { headers: { authorization: `Bearer ${forged}` } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it('kill -9 of the manager and its restart: consoles open through a gateway keep streaming, byte-exact, without a reconnect', { timeout: 180_000 }, async () => {
    const consoles = await Promise.all(CONSOLES.map((id) => openConsole(id)));
    for (const console_ of consoles) expect(console_.session.streamUrl.startsWith(stack.relayUrls[HOLDER]!.replace(/^http/, 'ws'))).toBe(true);
    const CHUNK = 4096;
    const typed = CONSOLES.map((_id, index) => seededBytes(CHUNK * 150, 11 + index));
    const sent = CONSOLES.map(() => 0);
    /** Type `rounds` chunks on every console, each round waiting until every console echoed what it was sent. */
    const typeRounds = async (rounds: number, phase: string) => {
      for (let round = 0; round < rounds; round += 1) {
        consoles.forEach((console_, index) => {
          console_.client.write(typed[index]!.subarray(sent[index]!, sent[index]! + CHUNK));
          sent[index]! += CHUNK;
        });
        await until(
          () => consoles.every((console_, index) => console_.output().length + console_.refused() >= sent[index]! || console_.closed() !== undefined),
          60_000,
          () => `${phase}: echoes (${consoles.map((console_, index) => `${console_.output().length}/${sent[index]}`).join(', ')})`,
        );
        for (const console_ of consoles) expect(console_.closed(), phase).toBeUndefined();
      }
    };
    await typeRounds(50, 'before the kill');
    await stack.killRelay(MANAGER);
    // The manager is gone: the consoles stream on (a third of everything typed crosses while it is dead).
    const managerDown = await fetch(`${stack.relayUrl}/readyz`).then(() => false, () => true);
    expect(managerDown).toBe(true);
    await typeRounds(50, 'manager dead');
    await stack.startRelay(MANAGER);
    await typeRounds(50, 'manager restarted');
    for (const [index, console_] of consoles.entries()) {
      const label = CONSOLES[index]!;
      expect(console_.closed(), label).toBeUndefined();
      expect(console_.states, label).not.toContain('reconnecting');
      if (console_.refused() === 0) {
        expect(console_.output().length, label).toBe(typed[index]!.length);
        expect(sha256(console_.output()), label).toBe(createHash('sha256').update(typed[index]!).digest('hex'));
        expect(echoes.get(label)!.received().equals(typed[index]!), label).toBe(true);
      } else {
        // The agent discarded input it read right after its event loop stood still (docs/streams.md) and said so.
        expect(console_.output().length + console_.refused(), label).toBe(typed[index]!.length);
      }
      await console_.client.leave();
    }
  });
});
