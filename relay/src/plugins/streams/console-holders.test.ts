import { waitFor } from '@lightsout/lab/wait';
import type { ServerDetail, SessionCreated } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningRelay, startRelay } from '../../testing/index.js';
import { type ScopeIdentities, createScopeIdentities } from '../../testing/scope-identities.js';
import { ScriptedAgent } from '../../testing/scripted-agent.js';

/**
 * Who is on a server's consoles, in `GET /v1/servers/{id}`: each live leg
 * with the user's display name, the console and the mode, listed while it is
 * spliced and gone when it ends; another tenant's user gets no server at all.
 */
let relay: RunningRelay;
let agent: ScriptedAgent;
let who: ScopeIdentities;

beforeAll(async () => {
  relay = await startRelay();
  who = await createScopeIdentities(relay, 'holders', 'holders-password-1');
  agent = await ScriptedAgent.start(relay.url, who.adminToken, [{ id: 'holders-1', name: 'holders-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

async function server(token: string): Promise<Response> {
  return fetch(`${relay.url}/v1/servers/holders-1`, { headers: { authorization: `Bearer ${token}` } });
}

async function consoles(token: string): Promise<ServerDetail['consoles']> {
  const response = await server(token);
  expect(response.status).toBe(200);
  return ((await response.json()) as ServerDetail).consoles;
}

/** Opens a SOL console and waits for its splice (the gateway's first text message). */
async function open(token: string, mode: 'control' | 'view'): Promise<WebSocket> {
  const response = await fetch(`${relay.url}/v1/servers/holders-1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'sol', mode }) });
  expect(response.status).toBe(201);
  const session = (await response.json()) as SessionCreated;
  const client = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.on('message', (_data, binary) => !binary && resolve()));
  return client;
}

describe("a server's consoles in its view", () => {
  it('lists who is on them while the legs are live, and nobody after they end', async () => {
    expect(await consoles(who.operatorToken)).toEqual([]);
    const control = await open(who.operatorToken, 'control');
    const view = await open(who.viewerToken, 'view');
    const listed = await waitFor('both legs in the server view', async () => {
      const now = await consoles(who.viewerToken);
      return now?.length === 2 && now;
    });
    expect(listed.map(({ user, kind, mode }) => ({ user, kind, mode }))).toEqual([
      { user: 'operator', kind: 'sol', mode: 'control' },
      { user: 'holders-viewer', kind: 'sol', mode: 'view' },
    ]);
    for (const { since } of listed) expect(Date.parse(since)).toBeLessThanOrEqual(Date.now());
    // Another tenant's user sees no such server, let alone who is on it.
    expect((await server(who.bravoToken)).status).toBe(404);
    control.close(1000, 'left');
    view.close(1000, 'left');
    await waitFor('nobody in the server view', async () => (await consoles(who.operatorToken))?.length === 0);
  });
});
