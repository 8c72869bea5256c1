import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentList, DiscoveredList, ServerList } from '@lightsout/shared';
import { startFleet, type Fleet } from '@lightsout/bmcsim';
import { cli } from '@lightsout/cli/testing';
import { freeTcpPort, freeUdpPort } from '@lightsout/lab';
import { waitFor } from '@lightsout/lab/wait';
import { startStack, type Stack } from '../lib/stack.js';

/**
 * Discovery end to end, with the relay and the agent as processes and the
 * CLI as a user runs it: an agent whose config names a range and a
 * credential set (no servers), `lightsout discovered scan|list|adopt`, the
 * adopted server polled through the agent, surviving the agent's restart
 * (its state dir), and followed by its UUID when it answers at a new address.
 */
const prefix = `127.${90 + randomInt(10)}.${randomInt(256)}`;
const range = `${prefix}.0/28`;
const addresses = [`${prefix}.3`, `${prefix}.7`, `${prefix}.12`];
const movedTo = `${prefix}.9`;

let fleet: Fleet;
let moved: Fleet | undefined;
let stack: Stack;
let ports: { ipmi: number; web: number; vnc: number };
const configDir = mkdtempSync(join(tmpdir(), 'lightsout-discovery-cli-'));

beforeAll(async () => {
  ports = { ipmi: await freeUdpPort(), web: await freeTcpPort(), vnc: await freeTcpPort() };
  fleet = await startFleet({ count: addresses.length, addresses, ports, idPrefix: 'disc' });
  stack = await startStack([], {
    agentEnv: fleet.agentEnvironment,
    agentCredentials: [{ id: 'lab', username: 'admin', passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }],
    agentConfig: { discovery: { ranges: [range], intervalSeconds: 0, ipmiPort: ports.ipmi, redfishPort: ports.web, probesPerSecond: 500, timeoutMs: 2000 }, poll: { intervalMs: 2000 } },
  });
  // No servers to wait for: wait for the agent itself.
  await waitFor('the agent to connect', async () => (await get<AgentList>('/v1/agents')).agents.some((agent) => agent.name === 'stack-agent' && agent.status === 'online') || undefined, { timeoutMs: 90_000, intervalMs: 200 });
}, 240_000);

afterAll(async () => {
  await stack?.close();
  await moved?.stop();
  await fleet?.stop();
  rmSync(configDir, { recursive: true, force: true });
});

const asAdmin = () => ({ LIGHTSOUT_TOKEN: stack.adminToken, LIGHTSOUT_RELAY: stack.relayUrl, LIGHTSOUT_CONFIG_DIR: configDir });
async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${stack.relayUrl}${path}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}
const discovered = () => get<DiscoveredList>('/v1/discovered').then((list) => list.discovered);
const serverView = async (id: string) => (await get<ServerList>('/v1/servers')).servers.find((server) => server.id === id);

describe('discovery through the CLI', () => {
  it('scans on demand and lists what answered, with no secret in it', async () => {
    const scan = await cli(['discovered', 'scan', '--agent', 'stack-agent'], asAdmin());
    expect(scan.code, scan.stderr).toBe(0);
    expect(scan.stdout).toMatch(/is scanning/);
    const found = await waitFor('the scan report', async () => ((await discovered()).length === 3 ? discovered() : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    expect(found.map((bmc) => bmc.address)).toEqual(addresses);
    expect(found[0]).toMatchObject({ agentName: 'stack-agent', protocols: ['ipmi', 'redfish'], vendor: 'Lightsout bmcsim', uuid: fleet.bmcs[0]!.bmc.uuid, guid: fleet.bmcs[0]!.bmc.uuid });
    const list = await cli(['discovered', 'list'], asAdmin());
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(addresses[1]);
    expect(JSON.stringify(found)).not.toContain('adminpass');
  }, 90_000);

  it('refuses an adoption naming a credential set the agent does not have, and a tenant role', async () => {
    const unknown = await cli(['discovered', 'adopt', addresses[0]!, '--name', 'disc-a', '--tenant', 'demo', '--credentials', 'nope'], asAdmin());
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('CREDENTIALS_UNKNOWN');
    const operator = await fetch(`${stack.relayUrl}/v1/discovered`, { headers: { authorization: `Bearer ${stack.operatorToken}` } });
    expect(operator.status).toBe(403);
  }, 60_000);

  it('adopts a BMC: the agent serves it with the named credentials, and keeps it across a restart', async () => {
    const adopt = await cli(['discovered', 'adopt', addresses[0]!, '--name', 'disc-a', '--tenant', 'demo', '--credentials', 'lab'], asAdmin());
    expect(adopt.code, adopt.stderr).toBe(0);
    expect(adopt.stdout).toContain('as server disc-a');
    // Observed through the agent: the BMC's power read with the credential set the agent holds.
    const view = await waitFor('disc-a to report power', async () => ((await serverView('disc-a'))?.power === 'on' ? serverView('disc-a') : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    expect(view).toMatchObject({ tenant: 'demo', endpoints: { ipmi: `${addresses[0]}:${ports.ipmi}`, redfish: `https://${addresses[0]}:${ports.web}` } });
    expect((await discovered()).find((bmc) => bmc.address === addresses[0])?.adoptedServerId).toBe('disc-a');
    const again = await cli(['discovered', 'adopt', addresses[0]!, '--name', 'disc-b', '--tenant', 'demo', '--credentials', 'lab'], asAdmin());
    expect(again.stderr).toContain('CONFLICT');

    await stack.killAgent();
    await waitFor('the relay to see the agent gone', async () => (await serverView('disc-a'))?.agent === 'offline' || undefined, { timeoutMs: 60_000, intervalMs: 200 });
    stack.startAgent();
    await waitFor('disc-a back from the agent state dir', async () => (await serverView('disc-a'))?.agent === 'online' || undefined, { timeoutMs: 90_000, intervalMs: 200 });
  }, 240_000);

  it('follows an adopted BMC to a new address by its UUID', async () => {
    await fleet.bmcs[0]!.bmc.stop();
    // The agent notices the BMC gone from its old address (a poll fails) before it moves.
    await waitFor('disc-a unreachable at its old address', async () => (await serverView('disc-a'))?.power === 'unknown' || undefined, { timeoutMs: 90_000, intervalMs: 200 });
    // The same simulated BMC (same id and seed: the same UUID; the same certificate) answering at another address of the range.
    moved = await startFleet({ count: 1, addresses: [movedTo], ports, idPrefix: 'disc', tls: fleet.tls! });
    expect(moved.bmcs[0]!.bmc.uuid).toBe(fleet.bmcs[0]!.bmc.uuid);
    const scan = await cli(['discovered', 'scan', '--agent', 'stack-agent'], asAdmin());
    expect(scan.code, scan.stderr).toBe(0);
    const view = await waitFor('disc-a at its new address', async () => ((await serverView('disc-a'))?.endpoints.ipmi === `${movedTo}:${ports.ipmi}` ? serverView('disc-a') : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    expect(view?.endpoints.redfish).toBe(`https://${movedTo}:${ports.web}`);
    // Read through the agent at the new address, with the same credential set.
    await waitFor('disc-a powered on at its new address', async () => (await serverView('disc-a'))?.power === 'on' || undefined, { timeoutMs: 60_000, intervalMs: 200 });
    const row = (await discovered()).find((bmc) => bmc.adoptedServerId === 'disc-a');
    expect(row).toMatchObject({ address: movedTo, previousAddress: addresses[0] });
  }, 240_000);
});
