import type { RequestMessage, ServerRegistration } from '@lightsout/shared';
import { TestControlClient, agentConnectToken, enrollTestAgent, isRefusal } from './control-client.js';
import { createJoinTokenAs } from './login.js';

/** A connected test agent and how to stop it. */
export interface AnsweringAgent {
  agent: TestControlClient;
  stop(): Promise<void>;
}

/**
 * Test-only: an agent enrolled with a join token from `adminToken` that
 * registers `servers`, heartbeats (without them a relay slowed by a loaded
 * machine takes it for dead) and hands every request to `answer`, for tests
 * that script the agent's answers themselves (ScriptedAgent answers for
 * consoles and media).
 */
export async function startAnsweringAgent(relayUrl: string, adminToken: string, name: string, servers: ServerRegistration[], answer: (request: RequestMessage) => void): Promise<AnsweringAgent> {
  const { token } = await createJoinTokenAs(relayUrl, adminToken, { region: 'eu', datacenter: 'fra1' });
  const agent = await TestControlClient.connect(relayUrl, await agentConnectToken(await enrollTestAgent(relayUrl, token, name)));
  if (isRefusal(agent)) throw new Error(`refused: ${agent.body.code}`);
  await agent.next('welcome');
  agent.send({ v: 1, type: 'inventory', servers });
  await agent.next('inventory-ack');
  let seq = 0;
  const heartbeat = setInterval(() => agent.send({ v: 1, type: 'heartbeat', seq: seq++ }), 2000);
  agent.socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type: string };
    if (message.type === 'request') answer(message as RequestMessage);
  });
  return {
    agent,
    async stop() {
      clearInterval(heartbeat);
      await agent.close();
    },
  };
}
