import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveConfig } from '@lightsout/agent';
import { startFleet, stringifyAgentConfig, type Fleet } from '@lightsout/bmcsim';

/**
 * The agent config bmcsim writes must load with the agent's own loader
 * (schema + credential resolution), with TLS pinning and with plain HTTP.
 */
let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

describe('bmcsim agent config', () => {
  it.each([true, false])('loads in the agent (tls %s) and resolves passwords from the environment', async (tls) => {
    fleet = await startFleet({ count: 2, address: '127.0.0.1', tls, vncPassword: 'vncpass1', timings: { postMs: 5, bootMs: 5 } });
    const document = parse(stringifyAgentConfig(fleet.agentConfig)) as Record<string, unknown>;
    const config = resolveConfig({ ...document, joinToken: 'j'.repeat(32) }, { source: 'bmcsim', base: '/tmp', env: fleet.agentEnvironment });
    const servers = (config as unknown as { servers: Array<{ id: string; redfish?: { url: string } }> }).servers;
    expect(servers.map((server) => server.id)).toEqual(fleet.bmcs.map((bmc) => bmc.id));
    expect(servers[0]!.redfish!.url).toBe(fleet.bmcs[0]!.redfishUrl);
    expect(() => resolveConfig({ ...document, joinToken: 'j'.repeat(32) }, { source: 'bmcsim', base: '/tmp', env: {} })).toThrow();
  });
});
