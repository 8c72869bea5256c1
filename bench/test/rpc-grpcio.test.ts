import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loginWithPassword } from '@lightsout/relay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BMCSIM_PASSWORD, BMCSIM_USER, type BmcsimFleet, startBmcsimFleet } from '../lib/bmcsim-fleet.js';
import { STACK_PASSWORD, type Stack, startStack } from '../lib/stack.js';

/**
 * The RPC API from a gRPC implementation no one here wrote: Google's grpcio
 * (Debian's python3-grpcio), with stubs generated from shared/proto at test
 * time by python3-grpc-tools, over cleartext HTTP/2 to a relay process with
 * an agent process and bmcsim BMCs (IPMI). It lists the servers, gets
 * NOT_FOUND and UNAUTHENTICATED with the stable code in the trailer, and
 * watches a power change it asked for arrive on WatchServers once the BMC
 * reports it; the relay's REST API then reads the same state from the BMC.
 */
const DEBIAN_PYTHON = '/usr/bin/python3';
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let fleet: BmcsimFleet;
let stack: Stack;
let token: string;
let stubs: string;

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  stubs = mkdtempSync(join(tmpdir(), 'lightsout-grpcio-stubs-'));
  const proto = join(REPO, 'shared/proto');
  const files = ['types', 'server', 'power'].map((name) => join(proto, `lightsout/v1/${name}.proto`));
  const generated = await run(DEBIAN_PYTHON, ['-m', 'grpc_tools.protoc', `-I${proto}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, ...files]);
  expect(generated.stderr).toBe('');
  expect(generated.code).toBe(0);
  // The reflection stubs as Python package `reflection` (under `grpc` they would hide grpcio's own package).
  const reflection = ['v1', 'v1alpha'].map((version) => join(proto, `grpc/reflection/${version}/reflection.proto`));
  const reflectionStubs = await run(DEBIAN_PYTHON, ['-m', 'grpc_tools.protoc', `-Ireflection=${join(proto, 'grpc/reflection')}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, ...reflection]);
  expect(reflectionStubs.stderr).toBe('');
  expect(reflectionStubs.code).toBe(0);
  fleet = await startBmcsimFleet({ count: 2, baseAddress: '127.74.0.1' });
  stack = await startStack(fleet.servers, { agentEnv: { BMCSIM_ADMIN_PASSWORD: BMCSIM_PASSWORD }, agentCredentials: [{ id: 'bmcsim-admin', username: BMCSIM_USER, passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }] });
  token = (await loginWithPassword(stack.relayUrl, 'operator', STACK_PASSWORD)).accessToken;
}, 240_000);

afterAll(async () => {
  await stack?.close();
  await fleet?.stop();
  if (stubs !== undefined) rmSync(stubs, { recursive: true, force: true });
});

describe('a grpcio client (python3-grpcio) through relay, agent and bmcsim', () => {
  it('lists the servers, is refused with the stable code, and watches the power change it asked for', async () => {
    const serverId = fleet.servers[0]!.id;
    const address = new URL(stack.relayUrl).host;
    const result = await run(DEBIAN_PYTHON, [join(REPO, 'bench/test/rpc-grpcio.py'), address, token, serverId], { PYTHONPATH: stubs });
    const steps = result.stdout.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown> & { step: string });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const step = (name: string) => steps.find((entry) => entry.step === name)!;

    const listed = step('list')['servers'] as Array<{ id: string; power: string; agent_online: boolean }>;
    expect(listed.map((server) => server.id).sort()).toEqual(fleet.servers.map((server) => server.id).sort());
    expect(listed.every((server) => server.agent_online)).toBe(true);
    expect(step('refusals')).toMatchObject({ missing: { status: 'NOT_FOUND', code: 'NOT_FOUND' }, anonymous: { status: 'UNAUTHENTICATED', code: 'UNAUTHENTICATED' } });
    expect((step('snapshot')['servers'] as string[]).sort()).toEqual(listed.map((server) => server.id).sort());

    // The stream showed the action pending, then the state the BMC reported; the BMC itself says the same now.
    const done = step('done') as unknown as { target: string };
    const changes = steps.filter((entry) => entry.step === 'change');
    expect(changes.at(-1)).toMatchObject({ power: done.target, pending: false });
    const now = await fetch(`${stack.relayUrl}/v1/servers/${serverId}/power`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'status' }) });
    expect(((await now.json()) as { power: string }).power).toBe(done.target === 'POWER_STATE_OFF' ? 'off' : 'on');
  }, 120_000);

  it('server reflection (v1 and v1alpha) lists the services and describes them well enough to call one from the descriptors alone; anonymous callers are refused', async () => {
    const address = new URL(stack.relayUrl).host;
    const result = await run(DEBIAN_PYTHON, [join(REPO, 'bench/test/rpc-reflection.py'), address, token], { PYTHONPATH: stubs });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const steps = result.stdout.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown> & { step: string });
    const step = (name: string) => steps.find((entry) => entry.step === name)!;
    const services = ['lightsout.v1.BootService', 'lightsout.v1.BulkService', 'lightsout.v1.EventLogService', 'lightsout.v1.PowerService', 'lightsout.v1.SensorService', 'lightsout.v1.ServerService', 'lightsout.v1.SessionService'];
    expect(step('list')['services']).toEqual(expect.arrayContaining([...services, 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']));
    expect(step('v1alpha')['services']).toEqual(step('list')['services']);
    expect(step('missing')).toMatchObject({ code: 5 });
    expect(step('service')).toMatchObject({ file: 'lightsout/v1/server.proto', methods: ['ListServers', 'GetServer', 'WatchServers'] });
    expect((step('call')['servers'] as string[]).sort()).toEqual(fleet.servers.map((server) => server.id).sort());
    expect(step('anonymous')).toMatchObject({ status: 'UNAUTHENTICATED' });
  }, 60_000);
});
