import type { SessionCreated } from '@lightsout/shared';
import { SignJWT, decodeJwt, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type RunningRelay,
  type TestAgentIdentity,
  TestControlClient,
  agentConnectToken,
  createJoinTokenAs,
  enrollTestAgent,
  isRefusal,
  loginWithPassword,
  startRelay,
} from '../testing/index.js';
import { readProviderSecrets } from '../identity/keys.js';
import { grantOf } from '../plugins/streams/tokens.js';

/**
 * Revoking a user or a service account ends their live console sessions at
 * once, and their resume tokens no longer bring the session back. A scripted
 * agent answers `stream.open` by dialing back like the real one does.
 */
let relay: RunningRelay;
let admin: string;
let agent: TestAgentIdentity;
let control: TestControlClient;
const agentLegs: WebSocket[] = [];

async function api(method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** The scripted agent: every stream.open gets a dial-back leg and an ok response. */
async function serveStreamOpens(): Promise<void> {
  for (;;) {
    let request;
    try {
      request = await control.next('request', 60_000);
    } catch {
      return; // control connection closed at the end of the test
    }
    if (request.op !== 'stream.open') continue;
    const params = request.params as { dialPath: string };
    const leg = new WebSocket(`${relay.url.replace(/^http/, 'ws')}${params.dialPath}`, { headers: { authorization: `Bearer ${await agentConnectToken(agent)}` } });
    agentLegs.push(leg);
    leg.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      leg.once('open', () => resolve());
      leg.once('unexpected-response', (_request, response) => reject(new Error(`agent leg refused: ${response.statusCode}`)));
    });
    control.send({ v: 1, type: 'response', id: request.id, ok: true, result: {} });
  }
}

/** Open a console as `token`; resolves once the leg is spliced (the relay pushed the first resume token). */
async function openConsole(token: string): Promise<{ client: WebSocket; resumeToken: string; session: SessionCreated; closed: Promise<number> }> {
  const session = (await api('POST', '/v1/servers/rev-1/sessions', token, { kind: 'sol', mode: 'control' })) as unknown as SessionCreated;
  const client = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
  const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
  const resumeToken = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no resume token within 10 s')), 10_000);
    client.on('message', (data, binary) => {
      if (binary) return;
      const message = JSON.parse(data.toString()) as { type: string; token?: string };
      if (message.type === 'token' && message.token !== undefined) {
        clearTimeout(timer);
        resolve(message.token);
      }
    });
    client.once('unexpected-response', (_request, response) => reject(new Error(`stream refused: ${response.statusCode}`)));
  });
  return { client, resumeToken, session, closed };
}

function resumeStatus(session: SessionCreated, resumeToken: string): Promise<number | 'open'> {
  const socket = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${resumeToken}`]);
  return new Promise((resolve) => {
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve('open');
      socket.terminate();
    });
    socket.on('error', () => undefined);
  });
}

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  agent = await enrollTestAgent(relay.url, (await createJoinTokenAs(relay.url, admin, { region: 'eu', datacenter: 'fra1' })).token);
  const connected = await TestControlClient.connect(relay.url, await agentConnectToken(agent));
  if (isRefusal(connected)) throw new Error(`agent refused: ${JSON.stringify(connected.body)}`);
  control = connected;
  await control.next('welcome');
  control.send({ v: 1, type: 'hello', agentVersion: 'test', capabilities: ['ipmi'] });
  control.send({ v: 1, type: 'inventory', servers: [{ id: 'rev-1', name: 'rev-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }] });
  expect((await control.next('inventory-ack')).accepted).toEqual(['rev-1']);
  void serveStreamOpens();
}, 60_000);
afterAll(async () => {
  for (const leg of agentLegs) leg.terminate();
  await control?.close();
  await relay.close();
});

describe('revocation ends live console sessions', () => {
  it('revoking an API token closes its console (4403) within a second and refuses its resume token', async () => {
    const created = await api('POST', '/v1/tokens', admin, { name: 'console-bot', role: 'operator', tenant: 'demo' });
    const { resumeToken, session, closed } = await openConsole(String(created['token']));
    const started = Date.now();
    await api('POST', `/v1/tokens/${String(created['id'])}/revoke`, admin);
    expect(await closed).toBe(4403);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await resumeStatus(session, resumeToken)).toBe(403);
  });

  it('a resume token the relay has already verified (asked the route with) is refused once its holder is revoked', async () => {
    const created = await api('POST', '/v1/tokens', admin, { name: 'route-asker', role: 'operator', tenant: 'demo' });
    const { resumeToken, session, closed } = await openConsole(String(created['token']));
    const route = () => fetch(session.routeUrl!, { headers: { authorization: `Bearer ${resumeToken}` } }).then((response) => response.status);
    // Verified twice before the revocation: the second answer comes from the relay's verified tokens.
    expect([await route(), await route()]).toEqual([200, 200]);
    await api('POST', `/v1/tokens/${String(created['id'])}/revoke`, admin);
    expect(await closed).toBe(4403);
    expect(await route()).toBe(403);
    expect(await resumeStatus(session, resumeToken)).toBe(403);
  });

  it('disabling a user closes their console and refuses their resume token; others keep theirs', async () => {
    await api('POST', '/v1/users', admin, { username: 'leaver', password: 'leaver-password-1', role: 'operator', tenant: 'demo' });
    const leaver = (await loginWithPassword(relay.url, 'leaver', 'leaver-password-1')).accessToken;
    const stayer = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
    const leaving = await openConsole(leaver);
    const staying = await openConsole(stayer);
    const users = (await api('GET', '/v1/users?tenant=demo', admin))['users'] as Array<{ id: string; username: string }>;
    await api('PATCH', `/v1/users/${users.find((user) => user.username === 'leaver')!.id}`, admin, { disabled: true });
    expect(await leaving.closed).toBe(4403);
    expect(await resumeStatus(leaving.session, leaving.resumeToken)).toBe(403);
    expect(staying.client.readyState).toBe(WebSocket.OPEN);
    staying.client.close();
    await staying.closed;
  });

  it('a resume token signed after the revocation, by a gateway that had not heard of it yet, is refused: it carries its session\'s grant time', async () => {
    const created = await api('POST', '/v1/tokens', admin, { name: 'token-chain', role: 'operator', tenant: 'demo' });
    const { resumeToken, session, closed } = await openConsole(String(created['token']));
    const first = relay.app.streams.tokens;
    await api('POST', `/v1/tokens/${String(created['id'])}/revoke`, admin);
    expect(await closed).toBe(4403);
    // A second later, as a gateway whose clock runs ahead (or which hears the notice late) refreshes the leg's token.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const claims = await first.verify(resumeToken, session.sessionId);
    const late = (await first.issue(grantOf(claims), 'resume')).token;
    expect(decodeJwt(late).iat).toBeGreaterThan(claims.iat);
    expect(decodeJwt(late)['gat']).toBe(claims.gat);
    expect(await resumeStatus(session, late)).toBe(403);
  });
});

describe('step-up before taking over a live console', () => {
  it('joining someone else\'s live console with control needs a recent sign-in; watching does not', async () => {
    const holder = await openConsole(admin);
    const operator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
    const edKey = (await readProviderSecrets(relay.app.keyDocuments))!.jwks.keys.find((key) => key.alg === 'EdDSA')!;
    const stale = await new SignJWT({ ...decodeJwt(operator), auth_time: Math.floor(Date.now() / 1000) - 3600 }).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' }).sign(await importJWK(edKey, 'EdDSA'));
    const post = (token: string, mode: 'control' | 'view') => fetch(`${relay.url}/v1/servers/rev-1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'sol', mode }) });
    const refused = await post(stale, 'control');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
    expect(((await refused.json()) as { code: string }).code).toBe('STEP_UP_REQUIRED');
    expect((await post(stale, 'view')).status).toBe(201);
    expect((await post(operator, 'control')).status).toBe(201);
    holder.client.close();
    await holder.closed;
    // Audited from outside the streams plugin: the first open, then joins of a live console (refused and accepted).
    const operatorId = decodeJwt(operator).sub!;
    const audit = await relay.app.store.selectFrom('audit').select(['action', 'outcome', 'details']).where('subject', '=', operatorId).where('action', 'like', 'session.%').orderBy('seq').execute();
    expect(audit.map((row) => `${row.action}:${row.outcome}:${(JSON.parse(row.details!) as { mode: string }).mode}`)).toEqual(
      expect.arrayContaining(['session.join:denied:control', 'session.join:success:view', 'session.join:success:control']),
    );
  });
});
