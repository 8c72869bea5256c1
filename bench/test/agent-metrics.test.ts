import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { importJWK, type JWK } from 'jose';
import pino from 'pino';
import { startFleet, type Fleet } from '@lightsout/bmcsim';
import { decodeAgentMessage, encodeControl, type AgentToRelay } from '@lightsout/shared';
import { eventually } from '@lightsout/lab/tracked-process';
import { builtinDriverFactories, resolveConfig, startAgent, type RunningAgent } from '@lightsout/agent';

/**
 * The agent's /healthz, /readyz and /metrics, scraped over HTTP after real
 * IPMI operations against bmcsim: polls (one BMC with other credentials),
 * a relay's power requests, a control channel that drops.
 */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function keyPair() {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK & { x: string };
  const privateKey = await importJWK(jwk, 'EdDSA');
  return { privateKey: privateKey as Exclude<typeof privateKey, Uint8Array>, publicJwk: { kty: 'OKP' as const, crv: 'Ed25519' as const, x: jwk.x } };
}

/** `name{labels} value` → the value; undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('agent health and metrics endpoints', () => {
  it('serve health, readiness and bounded-label metrics after real BMC operations', async () => {
    // sim-03's BMC knows other passwords: the agent's login is rejected.
    const fleet: Fleet = await startFleet({
      count: 3,
      address: '127.0.0.1',
      tls: false,
      configure: (config, index) => {
        if (index === 2) config.users = [{ name: 'admin', password: 'another-password', privilege: 'administrator' }];
      },
    });
    cleanups.push(() => fleet.stop());
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const relay = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const received: AgentToRelay[] = [];
    const sockets: WebSocket[] = [];
    wss.on('connection', (socket) => {
      sockets.push(socket);
      socket.on('message', (data) => received.push(decodeAgentMessage(data.toString())));
      socket.send(encodeControl({ v: 1, type: 'welcome', agentId: 'a', region: 'r', datacenter: 'd', heartbeatIntervalMs: 10_000, maxFrameBytes: 1 << 20, features: ['inventory-parts'] }));
    });

    const servers = fleet.agentConfig.servers.map(({ redfish: _redfish, serial: _serial, ...server }) => server);
    const config = resolveConfig(
      { ...fleet.agentConfig, relay, stateDir: '/nonexistent', servers, metrics: { listen: '127.0.0.1:0' }, control: { backoffBaseMs: 10, backoffCapMs: 50 } },
      { source: 'test', base: '/', env: fleet.agentEnvironment },
    );
    const logger = pino({ level: 'silent' });
    const agent: RunningAgent = startAgent({ config, identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay }, keyPair: await keyPair(), factories: builtinDriverFactories({ stateDir: '/nonexistent', logger }), logger });
    cleanups.push(() => agent.stop());
    const address = await agent.healthAddress;
    expect(address?.address).toBe('127.0.0.1');
    const base = `http://127.0.0.1:${address!.port}`;
    const scrape = async () => (await fetch(`${base}/metrics`)).text();

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await eventually('readiness once the control channel is open', 10_000, async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined));

    // The first poll round: two BMCs answer, one rejects the credentials.
    await eventually('three power states', 20_000, async () => (received.filter((message) => message.type === 'state').length >= 3 ? true : undefined));
    let text = await eventually('the poll round in the metrics', 10_000, async () => {
      const scraped = await scrape();
      return (sample(scraped, 'lightsout_agent_poll_round_duration_seconds_count') ?? 0) >= 1 ? scraped : undefined;
    });
    expect(sample(text, 'lightsout_agent_bmc_operation_duration_seconds_count{operation="power.poll",protocol="ipmi",result="ok"}')).toBe(2);
    expect(sample(text, 'lightsout_agent_bmc_operation_duration_seconds_count{operation="power.poll",protocol="ipmi",result="BMC_AUTH_FAILED"}')).toBe(1);
    expect(sample(text, 'lightsout_agent_poll_failures_total{code="BMC_AUTH_FAILED"}')).toBe(1);
    expect(sample(text, 'lightsout_agent_credentials_rejected_servers')).toBe(1);
    expect(sample(text, 'lightsout_agent_servers')).toBe(3);
    expect(sample(text, 'lightsout_agent_control_connected')).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // A relay's request: latency by operation, protocol and result.
    sockets[0]!.send(encodeControl({ v: 1, type: 'request', id: 'r1', op: 'power.set', params: { serverId: 'sim-01', action: 'off' }, timeoutMs: 5000 }));
    sockets[0]!.send(encodeControl({ v: 1, type: 'request', id: 'r2', op: 'power.get', params: { serverId: 'sim-02' }, timeoutMs: 5000 }));
    await eventually('both answers', 10_000, async () => (received.filter((message) => message.type === 'response').length >= 2 ? true : undefined));
    text = await scrape();
    expect(sample(text, 'lightsout_agent_bmc_operation_duration_seconds_count{operation="power.set",protocol="ipmi",result="ok"}')).toBe(1);
    expect(sample(text, 'lightsout_agent_bmc_operation_duration_seconds_count{operation="power.get",protocol="ipmi",result="ok"}')).toBe(1);

    // No label names a server, an address or a user: 10,000 BMCs must not be 10,000 series.
    for (const leak of ['sim-0', '127.0.0.1', 'admin']) expect(text.includes(leak), `${leak} in the metrics`).toBe(false);

    // The relay goes away: not ready, a reconnect counted; back again: ready.
    const reconnectsBefore = sample(text, 'lightsout_agent_control_reconnects_total') ?? 0;
    for (const socket of sockets) socket.terminate();
    await eventually('a reconnect counted', 10_000, async () => ((sample(await scrape(), 'lightsout_agent_control_reconnects_total') ?? 0) > reconnectsBefore ? true : undefined));
    await eventually('ready again after the reconnect', 10_000, async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined));

    const notFound = await fetch(`${base}/servers`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ code: 'NOT_FOUND' });
  }, 60_000);

  it('answers /readyz 503 with a code while the control channel is not open', async () => {
    const config = resolveConfig({ relay: 'http://127.0.0.1:9', name: 'n', stateDir: '/nonexistent', servers: [], metrics: { listen: '127.0.0.1:0' } }, { source: 'test', base: '/', env: {} });
    const logger = pino({ level: 'silent' });
    const agent = startAgent({ config, identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: 'http://127.0.0.1:9' }, keyPair: await keyPair(), factories: {}, logger });
    cleanups.push(() => agent.stop());
    const address = await agent.healthAddress;
    const response = await fetch(`http://127.0.0.1:${address!.port}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: 'AGENT_OFFLINE' });
  });

  it('ends the agent with CONFIG_INVALID when the metrics address is taken', async () => {
    const taken = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(taken, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    const config = resolveConfig({ relay: 'http://127.0.0.1:9', name: 'n', stateDir: '/nonexistent', servers: [], metrics: { listen: String(port) } }, { source: 'test', base: '/', env: {} });
    const logger = pino({ level: 'silent' });
    const agent = startAgent({ config, identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: 'http://127.0.0.1:9' }, keyPair: await keyPair(), factories: {}, logger });
    cleanups.push(() => agent.stop());
    expect(await agent.fatal).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`metrics.listen 127.0.0.1:${port}`) });
  });
});
