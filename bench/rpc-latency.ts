/**
 * rpc-latency: p50/p99 ms of ListServers and PowerStatus (GetPower: the BMC
 * read through relay and agent) over the RPC API's three protocols — gRPC
 * (cleartext HTTP/2), gRPC-Web and Connect (HTTP/1.1) — and over REST
 * (`GET /v1/servers`, `POST /v1/servers/{id}/power {"action":"status"}`),
 * against one relay and agent process with bmcsim BMCs (IPMI), in the same
 * run, taking turns call by call so load drift hits every path alike.
 *   npm run bench -- rpc-latency [--calls 500] [--servers 20]
 * JSON: ours = gRPC p99 of PowerStatus; baselines.rest, .connect, .grpc-web the same
 * call's p99 over them, and `<protocol>:ListServers` each.
 */
import { parseArgs } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { PowerService, ServerService } from '@lightsout/shared/rpc';
import { loginWithPassword } from '@lightsout/relay/testing';
import { BMCSIM_PASSWORD, BMCSIM_USER, startBmcsimFleet } from './lib/bmcsim-fleet.js';
import { printResult, printTable } from './lib/report.js';
import { STACK_PASSWORD, startStack } from './lib/stack.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '500' }, servers: { type: 'string', default: '20' } } });
const calls = Number(values.calls);
const fleet = await startBmcsimFleet({ count: Number(values.servers), baseAddress: '127.75.0.1' });
let stack: Awaited<ReturnType<typeof startStack>> | undefined;
try {
  // One caller measuring back to back: its BMC-operation rates raised so the limiter is not what is measured.
  const rate = { perSecond: 100_000, burst: 1_000_000 };
  stack = await startStack(fleet.servers, {
    agentEnv: { BMCSIM_ADMIN_PASSWORD: BMCSIM_PASSWORD },
    agentCredentials: [{ id: 'bmcsim-admin', username: BMCSIM_USER, passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }],
    relayConfig: { limits: { bmcOperations: { perToken: rate, perSubject: rate, perTenantRate: rate } } },
  });
  const base = stack.relayUrl;
  const token = (await loginWithPassword(base, 'operator', STACK_PASSWORD)).accessToken;
  const headers = { authorization: `Bearer ${token}` };
  const serverId = fleet.servers[0]!.id;
  const transports = { grpc: createGrpcTransport({ baseUrl: base }), 'grpc-web': createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1' }), connect: createConnectTransport({ baseUrl: base, httpVersion: '1.1' }) };
  type Call = () => Promise<unknown>;
  const paths: Record<string, Call> = {};
  for (const [name, transport] of Object.entries(transports)) {
    const servers = createClient(ServerService, transport);
    const power = createClient(PowerService, transport);
    paths[`${name} ListServers`] = () => servers.listServers({}, { headers });
    paths[`${name} PowerStatus`] = () => power.getPower({ serverId }, { headers });
  }
  const rest = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}`, { ...init, headers: { ...headers, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) } });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  };
  paths['rest ListServers'] = () => rest('/v1/servers');
  paths['rest PowerStatus'] = () => rest(`/v1/servers/${serverId}/power`, { method: 'POST', body: JSON.stringify({ action: 'status' }) });

  const samples = new Map<string, number[]>(Object.keys(paths).map((name) => [name, []]));
  // Untimed warm-up: connections, the BMC session, JIT.
  for (let round = 0; round < 20; round += 1) for (const call of Object.values(paths)) await call();
  for (let round = 0; round < calls; round += 1) {
    for (const [name, call] of Object.entries(paths)) {
      const started = performance.now();
      await call();
      samples.get(name)!.push(performance.now() - started);
    }
  }
  const quantile = (values: number[], q: number) => [...values].sort((left, right) => left - right)[Math.min(values.length - 1, Math.floor(values.length * q))]!;
  const rows = [...samples].map(([name, values]) => [name, Math.round(quantile(values, 0.5) * 100) / 100, Math.round(quantile(values, 0.99) * 100) / 100]);
  printTable(`RPC vs REST latency, ${calls} calls per path, taking turns`, ['path', 'p50 ms', 'p99 ms'], rows);
  const p99 = (name: string) => Math.round(quantile(samples.get(name)!, 0.99) * 100) / 100;
  printResult({
    bench: 'rpc-latency',
    metric: 'p99 ms of PowerStatus (a BMC read through relay and agent) over gRPC',
    unit: 'ms',
    better: 'lower',
    ours: p99('grpc PowerStatus'),
    // PowerStatus over the other paths by protocol name (baselines.rest …), ListServers as `protocol:ListServers`.
    baselines: {
      rest: p99('rest PowerStatus'),
      connect: p99('connect PowerStatus'),
      'grpc-web': p99('grpc-web PowerStatus'),
      ...Object.fromEntries(['grpc', 'grpc-web', 'connect', 'rest'].map((name) => [`${name}:ListServers`, p99(`${name} ListServers`)])),
    },
    params: { calls, servers: fleet.servers.length, p50: Object.fromEntries([...samples].map(([name, values]) => [name, Math.round(quantile(values, 0.5) * 100) / 100])) },
  });
} finally {
  await stack?.close();
  await fleet.stop();
}
