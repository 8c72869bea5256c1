import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { AuditPage, SessionCreated } from '@lightsout/shared';
import { SessionKind, SessionMode, SessionService } from '@lightsout/shared/rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningRelay, loginWithDeviceFlow, startRelay } from '../../testing/index.js';
import { ScriptedAgent } from '../../testing/scripted-agent.js';

/**
 * `takeover` on a console session (REST and RPC): it reaches the agent's
 * `stream.open` only for the session that asked, only for SOL in control
 * mode, only on the connect leg; the agent's word that it took SOL over is
 * audited as `sol.takeover`.
 */
let relay: RunningRelay;
let agent: ScriptedAgent;
let admin: string;
let operator: string;

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operator = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  agent = await ScriptedAgent.start(relay.url, admin, [{ id: 'tko-1', name: 'tko-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623', serial: 'tcp://127.0.0.1:2323' }, capabilities: ['power', 'sol', 'serial'] }]);
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

async function post(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}/v1/servers/tko-1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Connects a session's stream and returns the `stream.open` the agent was sent for it. */
async function openedAtAgent(session: SessionCreated): Promise<Record<string, unknown>> {
  const client = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.on('message', (_data, binary) => !binary && resolve()));
  const request = await agent.until(() => agent.requests.find((candidate) => candidate.op === 'stream.open' && candidate.params['sessionId'] === session.sessionId), 'stream.open');
  client.close(1000, 'done');
  return request.params;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function auditActions(): Promise<AuditPage['records']> {
  const response = await fetch(`${relay.url}/v1/audit?order=asc&server=tko-1&limit=500`, { headers: { authorization: `Bearer ${admin}` } });
  return ((await response.json()) as AuditPage).records;
}

describe('taking over SOL held by another session', () => {
  it('carries takeover from the REST request to the agent, and audits the takeover the agent reports', async () => {
    agent.openResult = { tookOver: true };
    try {
      const created = await post({ kind: 'sol', mode: 'control', takeover: true });
      expect(created.status).toBe(201);
      const session = created.body as unknown as SessionCreated;
      expect(claimsOf(session.token)['tko']).toBe(true);
      expect((await openedAtAgent(session))['takeover']).toBe(true);
      await expect.poll(async () => (await auditActions()).filter((record) => record.action === 'sol.takeover' && record.target === 'server:tko-1').map((record) => record.details?.['sessionId'])).toEqual([session.sessionId]);
      const opened = (await auditActions()).filter((record) => record.action === 'session.open' && record.target === 'server:tko-1');
      expect(opened.at(-1)?.details).toMatchObject({ kind: 'sol', mode: 'control', takeover: true });
    } finally {
      agent.openResult = {};
    }
  });

  it('sends no takeover without the flag, and a resume token never carries it', async () => {
    const created = await post({ kind: 'sol', mode: 'control' });
    expect(created.status).toBe(201);
    const session = created.body as unknown as SessionCreated;
    expect(claimsOf(session.token)['tko']).toBeUndefined();
    expect((await openedAtAgent(session))['takeover']).toBeUndefined();
    const resume = await relay.app.streams.tokens.issue({ sessionId: session.sessionId, serverId: 'tko-1', tenant: 'demo', kind: 'sol', mode: 'control', agentId: 'a', subject: 's', user: 'u', takeover: true }, 'resume');
    expect(claimsOf(resume.token)['tko']).toBeUndefined();
  });

  it('refuses takeover for a serial console and for a read-only view (BAD_REQUEST)', async () => {
    const serial = await post({ kind: 'serial', takeover: true });
    expect(serial).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
    const view = await post({ kind: 'sol', mode: 'view', takeover: true });
    expect(view).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
  });

  it('takes the same path through the RPC API', async () => {
    const sessions = createClient(SessionService, createConnectTransport({ baseUrl: relay.url, httpVersion: '1.1' }));
    const headers = { headers: { authorization: `Bearer ${operator}` } };
    const session = await sessions.createSession({ serverId: 'tko-1', kind: SessionKind.SOL, mode: SessionMode.CONTROL, takeover: true }, headers);
    expect(claimsOf(session.token)['tko']).toBe(true);
    const plain = await sessions.createSession({ serverId: 'tko-1', kind: SessionKind.SOL, mode: SessionMode.CONTROL }, headers);
    expect(claimsOf(plain.token)['tko']).toBeUndefined();
    await expect(sessions.createSession({ serverId: 'tko-1', kind: SessionKind.SOL, mode: SessionMode.VIEW, takeover: true }, headers)).rejects.toThrow(/control session/);
  });
});
