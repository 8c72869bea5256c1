import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '../testing/dialects.js';
import { type RunningRelay, agentConnectToken, createJoinTokenAs, enrollTestAgent, isRefusal, loginWithDeviceFlow, sharedAtRestKeyFile, startRelay, TestControlClient } from '../testing/index.js';

/**
 * Two relays of one deployment (one PostgreSQL store): an agent enrolls once,
 * through either, and its identity is good on both — the agent audience is
 * the deployment's (agents.audience), not each relay's URL.
 */
const postgres = postgresForThisFile();
const deploymentAudience = 'https://relay.deployment.test/agent';
let first: RunningRelay;
let second: RunningRelay;
let unconfigured: RunningRelay;

beforeAll(async () => {
  const store = { driver: 'postgres', postgresUrl: postgres().url };
  // One deployment, one at-rest key file: it opens the signing keys every replica reads from the store.
  const identity = { totpKeyFile: sharedAtRestKeyFile() };
  first = await startRelay({ config: { store, identity, agents: { audience: deploymentAudience } } as never });
  second = await startRelay({ config: { store, identity, agents: { audience: deploymentAudience } } as never });
  unconfigured = await startRelay({ config: { store, identity } as never });
}, 120_000);
afterAll(async () => {
  await Promise.all([first?.close(), second?.close(), unconfigured?.close()]);
});

async function connects(relayUrl: string, token: string): Promise<{ status: number; code?: string }> {
  const result = await TestControlClient.connect(relayUrl, token);
  if (isRefusal(result)) return { status: result.status, code: result.body.code };
  const welcome = await result.next('welcome');
  await result.close();
  return { status: welcome.type === 'welcome' ? 101 : 0 };
}

describe('one enrollment per deployment', () => {
  it('an agent enrolled through one relay connects to another relay on the same store', async () => {
    const adminToken = (await loginWithDeviceFlow(first.url, 'admin', first.credentials.admin.password)).accessToken;
    const { token } = await createJoinTokenAs(first.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(first.url, token);
    expect(identity.audience).toBe(deploymentAudience);
    expect(await connects(first.url, await agentConnectToken(identity))).toEqual({ status: 101 });
    expect(await connects(second.url, await agentConnectToken(identity))).toEqual({ status: 101 });
    // The token is still single-use across the deployment.
    const once = await agentConnectToken(identity);
    expect(await connects(second.url, once)).toEqual({ status: 101 });
    expect(await connects(first.url, once)).toEqual({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('a relay keeps accepting its own URL-derived audience, and refuses another relay\'s', async () => {
    const adminToken = (await loginWithDeviceFlow(first.url, 'admin', first.credentials.admin.password)).accessToken;
    const identity = await enrollTestAgent(first.url, (await createJoinTokenAs(first.url, adminToken, { region: 'eu', datacenter: 'fra1' })).token);
    expect(await connects(first.url, await agentConnectToken({ ...identity, audience: `${first.url}/agent` }))).toEqual({ status: 101 });
    expect(await connects(first.url, await agentConnectToken({ ...identity, audience: `${second.url}/agent` }))).toEqual({ status: 401, code: 'TOKEN_AUDIENCE' });
    expect(await connects(unconfigured.url, await agentConnectToken(identity))).toEqual({ status: 401, code: 'TOKEN_AUDIENCE' });
  });
});
