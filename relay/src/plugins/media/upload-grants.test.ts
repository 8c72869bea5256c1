import { Metadata } from '@tus/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../../testing/index.js';
import { ScriptedAgent } from '../../testing/scripted-agent.js';

/**
 * A user whose grants narrow them to some of their tenant's servers reaches
 * no other server through virtual media either: an upload names its server
 * in tus metadata and the image list takes it as a query, neither under a
 * `/v1/servers/{id}` route whose check applies the grants.
 */
let relay: RunningRelay;
let agent: ScriptedAgent;
let narrowed: string;

async function call(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const uploadFor = (serverId: string) =>
  call('POST', '/v1/media/uploads', narrowed, undefined, {
    'tus-resumable': '1.0.0',
    'upload-length': String(1024 * 1024),
    'upload-metadata': Metadata.stringify({ filename: 'live.iso', sha256: 'ab'.repeat(32), server: serverId }),
  });

beforeAll(async () => {
  relay = await startRelay();
  const admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  const server = (id: string, rack: string) => ({ id, name: id, tenant: 'demo', rack, endpoints: { ipmi: '127.0.0.1:623', redfish: 'https://127.0.0.1:8443' }, capabilities: ['power', 'media'] as never[] });
  agent = await ScriptedAgent.start(relay.url, admin, [server('granted-1', 'r1'), server('elsewhere-1', 'r2')]);
  const user = await call('POST', '/v1/users', admin, { username: 'rack-one', password: 'rack-one-password-1', role: 'operator', tenant: 'demo' });
  expect(user.status).toBe(201);
  expect((await call('POST', '/v1/grants', admin, { userId: user.body['id'], selector: { kind: 'rack', rack: 'r1' } })).status).toBe(201);
  narrowed = (await loginWithPassword(relay.url, 'rack-one', 'rack-one-password-1')).accessToken;
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

describe('virtual media within a user\'s grants', () => {
  it('an upload for a server outside them is refused as if the server did not exist; one inside them is created', async () => {
    expect(await uploadFor('elsewhere-1')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect((await uploadFor('granted-1')).status).toBe(201);
  });

  it('the images a server outside them could mount are not listed', async () => {
    expect(await call('GET', '/v1/media/images?server=elsewhere-1', narrowed)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect((await call('GET', '/v1/media/images?server=granted-1', narrowed)).status).toBe(200);
  });
});
