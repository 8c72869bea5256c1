import type { SessionCreated } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningRelay, loginWithDeviceFlow, startRelay } from '../../testing/index.js';
import { ScriptedAgent } from '../../testing/scripted-agent.js';

/**
 * Leaving a console (`~.`: the client closes with 1000) ends the session at
 * the agent at once: after the splice the agent's leg is closed with 1000;
 * before it (the agent was still dialing back) the agent is sent
 * `stream.close`, instead of being left to its grace period with the BMC
 * console held.
 */
let relay: RunningRelay;
let agent: ScriptedAgent;
let operator: string;

beforeAll(async () => {
  relay = await startRelay();
  const admin = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operator = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  agent = await ScriptedAgent.start(relay.url, admin, [{ id: 'leave-1', name: 'leave-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

async function createSession(): Promise<SessionCreated> {
  const response = await fetch(`${relay.url}/v1/servers/leave-1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'sol', mode: 'control' }) });
  expect(response.status).toBe(201);
  return (await response.json()) as SessionCreated;
}

describe('leaving a console', () => {
  it('before the leg is spliced, tells the agent with stream.close (the session ends now)', async () => {
    let release!: () => void;
    agent.dialBackGate = new Promise<void>((resolve) => (release = resolve));
    try {
      const session = await createSession();
      const client = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
      client.on('error', () => undefined);
      await new Promise<void>((resolve) => client.once('open', () => resolve()));
      await agent.until(() => agent.requests.some((request) => request.op === 'stream.open' && request.params['sessionId'] === session.sessionId), 'stream.open');
      client.close(1000, 'left');
      // The agent is told explicitly, while it is still dialing back: it ends the session now.
      await agent.until(() => agent.requests.some((request) => request.op === 'stream.close' && request.params['sessionId'] === session.sessionId), 'stream.close');
      expect(agent.requests.findIndex((request) => request.op === 'stream.close')).toBeGreaterThan(agent.requests.findIndex((request) => request.op === 'stream.open' && request.params['sessionId'] === session.sessionId));
    } finally {
      release();
      agent.dialBackGate = undefined;
    }
  });

  it('after the splice, closes the agent leg with 1000', async () => {
    const session = await createSession();
    const client = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
    client.on('error', () => undefined);
    await new Promise<void>((resolve) => client.on('message', (_data, binary) => !binary && resolve()));
    const leg = await agent.until(() => agent.legs.find((candidate) => candidate.sessionId === session.sessionId), 'the agent leg');
    client.close(1000, 'left');
    expect(await leg.closed).toBe(1000);
  });
});
