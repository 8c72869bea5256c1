import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, agentConnectToken, createJoinTokenAs, enrollTestAgent, isRefusal, loginWithDeviceFlow, startRelay, TestControlClient } from '../testing/index.js';
import { hashJoinToken } from './join-tokens.js';

let relay: RunningRelay;
let adminToken: string;
let operatorToken: string;

beforeAll(async () => {
  relay = await startRelay();
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operatorToken = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
});
afterAll(async () => {
  await relay.close();
});

async function enrollRefusal(joinToken: string) {
  try {
    await enrollTestAgent(relay.url, joinToken);
  } catch (error) {
    return { code: (error as { code: string }).code };
  }
  return { code: 'enrolled' };
}

describe('join tokens', () => {
  it('only a provider admin creates them; the token is random, short-lived and stored hashed', async () => {
    const denied = await fetch(`${relay.url}/v1/agents/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken}` }, body: JSON.stringify({ region: 'eu', datacenter: 'fra1', tenants: ['demo'] }) });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { code: string }).code).toBe('FORBIDDEN');
    const anonymous = await fetch(`${relay.url}/v1/agents/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ region: 'eu', datacenter: 'fra1', tenants: ['demo'] }) });
    expect(anonymous.status).toBe(401);

    const created = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    expect(Buffer.from(created.token, 'base64url')).toHaveLength(32);
    const lifetime = Date.parse(created.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(590_000);
    expect(lifetime).toBeLessThanOrEqual(600_000);
    const rows = await relay.app.store.selectFrom('join_tokens').selectAll().execute();
    expect(rows.some((row) => row.token_hash === hashJoinToken(created.token))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(created.token);
  });

  it('refuses bad bodies with VALIDATION_FAILED', async () => {
    const response = await fetch(`${relay.url}/v1/agents/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ region: '../etc', datacenter: 'fra1', tenants: ['demo'] }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
  });

  it('enrolls once: the agent gets its placement from the token, a replay is JOIN_TOKEN_USED', async () => {
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(relay.url, token, 'fra1-agent');
    expect(identity).toMatchObject({ region: 'eu', datacenter: 'fra1', audience: `${relay.url}/agent` });
    expect(await enrollRefusal(token)).toEqual({ code: 'JOIN_TOKEN_USED' });
  });

  it('refuses an unknown token (JOIN_TOKEN_INVALID) and an expired one (JOIN_TOKEN_EXPIRED)', async () => {
    expect(await enrollRefusal('x'.repeat(43))).toEqual({ code: 'JOIN_TOKEN_INVALID' });
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    await relay.app.store.updateTable('join_tokens').set({ expires_at: Date.now() - 1 }).where('token_hash', '=', hashJoinToken(token)).execute();
    expect(await enrollRefusal(token)).toEqual({ code: 'JOIN_TOKEN_EXPIRED' });
  });

  it('lets exactly one of two racing enrollments win', async () => {
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const results = await Promise.all([enrollRefusal(token), enrollRefusal(token), enrollRefusal(token)]);
    expect(results.filter((result) => result.code === 'enrolled')).toHaveLength(1);
    expect(results.filter((result) => result.code === 'JOIN_TOKEN_USED')).toHaveLength(2);
  });

  it('lists tokens with what became of each, never their value; revokes one not used yet, refuses a used one', async () => {
    const list = async (token = adminToken) => {
      const response = await fetch(`${relay.url}/v1/agents/join-tokens`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as { joinTokens: Array<{ id: string; state: string; createdByName: string | null; usedByAgent: string | null }>; code?: string } };
    };
    const revoke = async (id: string, token = adminToken) => {
      const response = await fetch(`${relay.url}/v1/agents/join-tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, code: response.status === 204 ? undefined : ((await response.json()) as { code: string }).code };
    };
    const pending = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const used = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const agent = await enrollTestAgent(relay.url, used.token, 'listed-agent');
    const listed = await list();
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(pending.token);
    const byId = new Map(listed.body.joinTokens.map((entry) => [entry.id, entry]));
    expect(byId.get(hashJoinToken(pending.token))).toMatchObject({ state: 'pending', createdByName: 'admin', usedByAgent: null });
    expect(byId.get(hashJoinToken(used.token))).toMatchObject({ state: 'used', usedByAgent: agent.agentId });
    expect((await list(operatorToken)).status).toBe(403);
    expect(await revoke(hashJoinToken(pending.token), operatorToken)).toEqual({ status: 403, code: 'FORBIDDEN' });

    expect(await revoke(hashJoinToken(pending.token))).toEqual({ status: 204, code: undefined });
    expect(await enrollRefusal(pending.token)).toEqual({ code: 'JOIN_TOKEN_INVALID' });
    expect((await list()).body.joinTokens.some((entry) => entry.id === hashJoinToken(pending.token))).toBe(false);
    expect(await revoke(hashJoinToken(pending.token))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(await revoke(hashJoinToken(used.token))).toEqual({ status: 409, code: 'CONFLICT' });
    const audited = await relay.app.store.selectFrom('audit').select(['details']).where('action', '=', 'join-token.revoke').execute();
    expect(audited.map((row) => JSON.parse(row.details!) as unknown)).toEqual([{ joinToken: hashJoinToken(pending.token) }]);
  });

  it('records enrollments in the audit table', async () => {
    const rows = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'agent.enroll').execute();
    expect(rows.some((row) => row.outcome === 'success')).toBe(true);
    expect(rows.some((row) => row.outcome === 'failure' && row.details?.includes('JOIN_TOKEN_USED'))).toBe(true);
  });
});

describe('agent connect authentication', () => {
  it('welcomes an enrolled agent with its placement and the heartbeat interval', async () => {
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'us', datacenter: 'nyc2' });
    const identity = await enrollTestAgent(relay.url, token);
    const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
    expect(await client.next('welcome')).toEqual({ v: 1, type: 'welcome', agentId: identity.agentId, region: 'us', datacenter: 'nyc2', heartbeatIntervalMs: 5000, maxFrameBytes: 1024 * 1024, features: ['inventory-parts', 'discovery'] });
    await client.close();
  });

  it('refuses replay, unknown key, wrong signer, long lifetime, expiry and wrong audience with exact codes', async () => {
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(relay.url, token);
    const intruder = await enrollTestAgent(relay.url, (await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' })).token);

    const once = await agentConnectToken(identity);
    const first = await TestControlClient.connect(relay.url, once);
    if (isRefusal(first)) throw new Error('first use refused');
    await first.close();
    const refusal = async (jwt: string) => {
      const result = await TestControlClient.connect(relay.url, jwt);
      if (!isRefusal(result)) {
        await result.close();
        return { status: 101 };
      }
      return { status: result.status, code: result.body.code };
    };
    expect(await refusal(once)).toEqual({ status: 401, code: 'TOKEN_INVALID' });
    expect(await refusal(await agentConnectToken({ ...identity, agentId: 'not-enrolled' }))).toEqual({ status: 401, code: 'AGENT_KEY_UNKNOWN' });
    expect(await refusal(await agentConnectToken({ ...intruder, agentId: identity.agentId }))).toEqual({ status: 401, code: 'TOKEN_INVALID' });
    expect(await refusal(await agentConnectToken(identity, { lifetimeSeconds: 3600 }))).toEqual({ status: 401, code: 'TOKEN_INVALID' });
    expect(await refusal(await agentConnectToken(identity, { issuedAt: Math.floor(Date.now() / 1000) - 120 }))).toEqual({ status: 401, code: 'TOKEN_EXPIRED' });
    expect(await refusal(await agentConnectToken(identity, { audience: `${relay.url}/v1` }))).toEqual({ status: 401, code: 'TOKEN_AUDIENCE' });
    expect(await refusal('garbage')).toEqual({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('refuses a revoked agent (403 AGENT_REVOKED) and closes its live connection with 4003', async () => {
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(relay.url, token);
    const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    if (isRefusal(client)) throw new Error('refused');
    await client.next('welcome');
    const revoked = await fetch(`${relay.url}/v1/agents/${identity.agentId}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id: identity.agentId, revoked: true, status: 'offline' });
    expect((await client.next('error')).error.code).toBe('AGENT_REVOKED');
    expect((await client.closed).code).toBe(4003);
    const again = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    expect(isRefusal(again) && { status: again.status, code: again.body.code }).toEqual({ status: 403, code: 'AGENT_REVOKED' });
  });

  it('lists agents for provider admins only', async () => {
    const list = await fetch(`${relay.url}/v1/agents`, { headers: { authorization: `Bearer ${adminToken}` } });
    const body = (await list.json()) as { agents: Array<{ revoked: boolean; status: string }> };
    expect(body.agents.length).toBeGreaterThan(3);
    expect(body.agents.some((agent) => agent.revoked)).toBe(true);
    const denied = await fetch(`${relay.url}/v1/agents`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(denied.status).toBe(403);
  });
});
