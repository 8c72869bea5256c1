import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLiveConsole } from './live-connections.js';
import { loginWithPassword } from './login.js';
import { type RunningRelay, startRelay } from './relay.js';
import { ScriptedAgent } from './scripted-agent.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * The scripted agent stands in for the real one in the isolation matrix's
 * live rows, which run longer than the relay's heartbeat timeout on a loaded
 * machine: it must heartbeat like the real agent or the relay drops it
 * mid-run (a console then never gets its resume token). Here the timeout is
 * 200 ms, so the test outlasts it many times over without waiting on time.
 */
let relay: RunningRelay;
beforeAll(async () => {
  relay = await startRelay({ config: { agents: { heartbeatIntervalMs: 100, missedHeartbeats: 2 } } as never });
});
afterAll(async () => relay.close());

const heartbeatsHeard = async () => (await relay.app.metrics.controlMessages.get()).values.filter((value) => value.labels['direction'] === 'in' && value.labels['type'] === 'heartbeat').reduce((sum, value) => sum + value.value, 0);

describe('the scripted agent', () => {
  it('heartbeats at the interval the welcome names, so it stays online past the heartbeat timeout and still opens consoles', async () => {
    const admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
    const agent = await ScriptedAgent.start(relay.url, admin, [{ id: 'hb-01', name: 'hb-01', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }]);
    try {
      // Ten intervals: five times the 200 ms after which a silent agent is dropped.
      await waitFor('ten heartbeats heard by the relay', async () => (await heartbeatsHeard()) >= 10, { timeoutMs: 20_000 });
      expect(relay.app.agentRouter.isOnline(agent.identity.agentId)).toBe(true);
      const leg = await openLiveConsole(relay, admin, 'hb-01');
      expect(leg.resumeToken.length).toBeGreaterThan(0);
      leg.client.terminate();
    } finally {
      await agent.stop();
    }
  });
});
