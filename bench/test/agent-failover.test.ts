import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { type Stack, startStack } from '../lib/stack.js';

/**
 * Two relays of one deployment (processes, one PostgreSQL store) and an agent
 * process with both in its gateway list. The relay that holds the agent is
 * killed with SIGKILL: the agent must be on the other one within 5 s — it
 * reconnects at once after a healthy connection drops and fails over to the
 * next gateway without backing off, on the identity it enrolled with once.
 */
const postgres = postgresForThisFile();

async function agentState(relayUrl: string, token: string): Promise<string | undefined> {
  const response = await fetch(`${relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) return undefined;
  const body = (await response.json()) as { servers: { id: string; agent: string }[] };
  return body.servers.find((server) => server.id === 'web-01')?.agent;
}

/** Polls `check` until it holds; bounded by `timeoutMs`. Returns the milliseconds it took. */
async function within(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  // Bounded by the deadline.
  while (!(await check().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return performance.now() - started;
}

describe('agent failover between the relays of one deployment', () => {
  let stack: Stack;

  beforeAll(async () => {
    // The console port is never opened here: the agent only needs a server to register.
    stack = await startStack([{ id: 'web-01', serial: { url: 'tcp://127.0.0.1:9' } }], { relays: 2, postgresUrl: postgres().url });
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('kill -9 of the relay holding the agent: the agent is online on the other relay within 5 s', { timeout: 60_000 }, async () => {
    const [first, second] = stack.relayUrls as [string, string];
    // One issuer for the deployment: the token from the first relay opens the second.
    const secondToken = stack.operatorToken;
    // Online as seen from both (the second routes to the first), held by the first.
    expect(await agentState(first, stack.operatorToken)).toBe('online');
    expect(await agentState(second, secondToken)).toBe('online');
    expect(await stack.agentHeldBy()).toBe(first);

    await stack.killRelay(0);
    const tookMs = await within(5000, 'the agent held by the second relay', async () => (await stack.agentHeldBy()) === second && (await agentState(second, secondToken)) === 'online');
    expect(tookMs).toBeLessThan(5000);
  });
});
