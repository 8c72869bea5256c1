import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { type Fleet, startFleet } from '@lightsout/bmcsim';
import { type IpmiSimLab, startIpmiSim } from '@lightsout/lab';
import { loginWithPassword } from '@lightsout/relay/testing';
import { type SessionCreated, type StatusMessage, StreamClient } from '@lightsout/shared';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../lib/processes.js';
import { type Stack, startStack } from '../lib/stack.js';
import { nodeSocketFactory, sessionConnection } from '../lib/stream-socket.js';

/**
 * The MCP endpoint through the whole chain: MCP clients no one here wrote
 * (the SDK's own client, the MCP Inspector's CLI) → relay process → agent
 * process → a bmcsim BMC (its host runs a login shell on SOL) and OpenIPMI's
 * ipmi_sim. Tenant demo's policy is set through the REST API by an admin;
 * the operator's calls meet it.
 */
const BRAVO_PASSWORD = 'bravo-operator-password-1';
// The package's CLI proper (its cli.js is a launcher that expects the whole inspector around it).
const inspectorCli = createRequire(import.meta.url).resolve('@modelcontextprotocol/inspector-cli/build/index.js');

interface ToolError {
  error: { code: string; message: string; details?: Record<string, unknown> };
  duration_ms: number;
  server_ids: string[];
}

describe('MCP through relay → agent → BMC', () => {
  let fleet: Fleet;
  let lab: IpmiSimLab;
  let stack: Stack;
  let bravoToken: string;
  const clients: Client[] = [];

  async function mcp(token: string): Promise<Client> {
    const client = new Client({ name: 'mcp-chain-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.relayUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }
  async function call(client: Client, name: string, args: Record<string, unknown>) {
    const result = await client.callTool({ name, arguments: args });
    const text = (result.content as { text: string }[])[0]!.text;
    return { result, text, structured: result.structuredContent as Record<string, unknown> | undefined, failure: result.isError === true ? (JSON.parse(text) as ToolError) : undefined };
  }
  async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${stack.relayUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  beforeAll(async () => {
    fleet = await startFleet({ count: 1, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, startPowered: true, timings: { postMs: 5, bootMs: 5, shutdownMs: 20, cycleMs: 20 } });
    lab = await startIpmiSim();
    const simIpmi = fleet.bmcs[0]!.ipmi;
    stack = await startStack(
      [
        { id: 'sim-01', ipmi: { host: simIpmi.host, port: simIpmi.port, credentials: 'bmcsim-admin', cipherSuite: 'auto', privilege: 'administrator' } },
        { id: 'lab-01', ipmi: { host: lab.host, port: lab.port, credentials: 'lab-admin', cipherSuite: 3, privilege: 'administrator' } },
        { id: 'bravo-01', tenant: 'bravo', ipmi: { host: simIpmi.host, port: simIpmi.port, credentials: 'bmcsim-admin', cipherSuite: 'auto', privilege: 'administrator' } },
      ],
      {
        agentEnv: { BMCSIM_ADMIN_PASSWORD: 'adminpass', LAB_ADMIN_PASSWORD: 'adminpass' },
        agentCredentials: [
          { id: 'bmcsim-admin', username: 'admin', passwordEnv: 'BMCSIM_ADMIN_PASSWORD' },
          { id: 'lab-admin', username: 'admin', passwordEnv: 'LAB_ADMIN_PASSWORD' },
        ],
        beforeAgent: async (running) => {
          const post = async (path: string, body: unknown) => {
            const response = await fetch(`${running.relayUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${running.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
            expect(response.status, `${path}: ${await response.clone().text()}`).toBe(201);
          };
          await post('/v1/tenants', { id: 'bravo', name: 'Bravo' });
          await post('/v1/users', { username: 'bravo-operator', password: BRAVO_PASSWORD, role: 'operator', tenant: 'bravo' });
        },
      },
    );
    bravoToken = (await loginWithPassword(stack.relayUrl, 'bravo-operator', BRAVO_PASSWORD)).accessToken;
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await stack?.close();
    await lab?.stop();
    await fleet?.stop();
  });

  it('with an empty policy lists only the read-only tools, reads power from bmcsim and ipmi_sim, and refuses acting tools', async () => {
    const client = await mcp(stack.operatorToken);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['bulk_status', 'console_tail', 'get_server', 'list_servers', 'power_status', 'read_event_log', 'read_sensors']);
    expect(tools.find((tool) => tool.name === 'power_status')?.outputSchema?.properties).toHaveProperty('duration_ms');

    const sim = await call(client, 'power_status', { server_id: 'sim-01' });
    expect(sim.structured, sim.text).toMatchObject({ server_id: 'sim-01', power: 'on', server_ids: ['sim-01'] });
    expect(sim.structured?.['duration_ms']).toEqual(expect.any(Number));
    const ipmiSim = await call(client, 'power_status', { server_id: 'lab-01' });
    expect(ipmiSim.structured, ipmiSim.text).toMatchObject({ server_id: 'lab-01', server_ids: ['lab-01'] });
    expect(['on', 'off']).toContain(ipmiSim.structured?.['power']);

    const listed = await call(client, 'list_servers', {});
    expect((listed.structured?.['servers'] as { id: string }[]).map((server) => server.id).sort()).toEqual(['lab-01', 'sim-01']);
    const sensors = await call(client, 'read_sensors', { server_id: 'sim-01' });
    expect((sensors.structured?.['sensors'] as unknown[]).length, sensors.text).toBeGreaterThan(0);

    const refused = await call(client, 'power_action', { server_id: 'sim-01', action: 'off' });
    expect(refused.failure?.error.code, refused.text).toBe('POLICY_DENIED');
    expect(refused.text).not.toMatch(/\bat \S+:\d+:\d+/); // never a stack trace
  }, 60_000);

  it("another tenant's operator sees none of demo's servers through the tools", async () => {
    const client = await mcp(bravoToken);
    const listed = await call(client, 'list_servers', {});
    expect((listed.structured?.['servers'] as { id: string }[]).map((server) => server.id)).toEqual(['bravo-01']);
    for (const name of ['get_server', 'power_status', 'read_sensors', 'read_event_log', 'console_tail']) {
      const answer = await call(client, name, { server_id: 'sim-01' });
      expect(answer.failure?.error.code, `${name}: ${answer.text}`).toBe('NOT_FOUND');
    }
  }, 60_000);

  it('applies the policy to console lines and never returns a password printed on the console', async () => {
    const policy = await api(stack.adminToken, 'PUT', '/v1/automation/policy?tenant=demo', {
      tools: ['list_servers', 'get_server', 'power_status', 'read_sensors', 'read_event_log', 'console_tail', 'console_send', 'power_action'],
      console: { allow: ['^root$', '^echo [a-z0-9=: -]+$', '^uptime$'], deny: ['reboot'] },
      approval: { power: ['off'] },
      redact: ['cust-[0-9]{4}'],
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    const client = await mcp(stack.operatorToken);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('console_send');

    for (const [line, reason] of [['echo ok\nreboot', /multi-line/], ['echo reboot now', /deny pattern/], ['ls -la', /no allow pattern/], ['echo \u0003', /control characters/]] as const) {
      const refused = await call(client, 'console_send', { server_id: 'sim-01', line });
      expect(refused.failure?.error.code, refused.text).toBe('POLICY_DENIED');
      expect(refused.failure?.error.message).toMatch(reason);
    }

    await call(client, 'console_send', { server_id: 'sim-01', line: 'root' });
    const sent = await call(client, 'console_send', { server_id: 'sim-01', line: 'echo password=hunter2 owner cust-1234' });
    expect(sent.structured, sent.text).toMatchObject({ server_id: 'sim-01', sent: true });
    expect(sent.text).toContain('password=[REDACTED]');
    expect(sent.text).not.toContain('hunter2');
    expect(sent.text).not.toContain('cust-1234');

    const tail = await call(client, 'console_tail', { server_id: 'sim-01', lines: 20 });
    expect(tail.result.isError, tail.text).toBeFalsy();
    expect((tail.structured?.['lines'] as string[]).join('\n')).toContain('password=[REDACTED] owner [REDACTED]');
    expect(tail.text).not.toContain('hunter2');

    const audit = await api(stack.adminToken, 'GET', '/v1/audit?limit=1000');
    const calls = (audit.body['records'] as { action: string; details: unknown; outcome: string }[]).filter((record) => record.action.startsWith('mcp.'));
    expect(calls.map((record) => record.action)).toEqual(expect.arrayContaining(['mcp.console_send', 'mcp.console_tail', 'mcp.power_status']));
    expect(calls.filter((record) => record.action === 'mcp.console_send').map((record) => record.outcome)).toEqual(expect.arrayContaining(['denied', 'success']));
    expect(JSON.stringify(calls)).not.toContain('hunter2');
  }, 90_000);

  it('reports a line as sent only when it reached the console: someone else holding control is a CONFLICT', async () => {
    // This test's own policy; the tests after it get the one before it back.
    const previous = (await api(stack.adminToken, 'GET', '/v1/automation/policy?tenant=demo')).body['policy'];
    const policy = await api(stack.adminToken, 'PUT', '/v1/automation/policy?tenant=demo', { tools: ['console_send'], console: { allow: ['^echo [a-z0-9=: -]+$'] } });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    // The admin holds control of sim-01's console; the operator's console_send joins it and may not type.
    const created = await api(stack.adminToken, 'POST', '/v1/servers/sim-01/sessions', { kind: 'sol', mode: 'control' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    let output = '';
    let status: StatusMessage | undefined;
    const holder = new StreamClient({ ...sessionConnection(created.body as unknown as SessionCreated, nodeSocketFactory()), onData: (bytes) => (output += Buffer.from(bytes).toString('utf8')), onStatus: (message) => (status = message) });
    try {
      await eventually('the admin to hold control', 30_000, async () => (status?.mode === 'control' ? true : undefined));
      const client = await mcp(stack.operatorToken);
      const sent = await call(client, 'console_send', { server_id: 'sim-01', line: 'echo mark-1' });
      if (sent.failure === undefined) {
        // Only a real takeover may answer sent: true, and then the line ran.
        expect(sent.structured, sent.text).toMatchObject({ sent: true });
        expect(sent.text).toContain('mark-1');
      } else {
        expect(sent.failure.error.code, sent.text).toBe('CONFLICT');
        expect(sent.failure.error.message).toMatch(/control/);
        expect(output).not.toContain('mark-1');
      }
    } finally {
      await holder.leave();
      expect((await api(stack.adminToken, 'PUT', '/v1/automation/policy?tenant=demo', previous)).status).toBe(200);
    }
  }, 90_000);

  it('holds a power off for a tenant admin\'s approval, then runs it once', async () => {
    const client = await mcp(stack.operatorToken);
    const held = await call(client, 'power_action', { server_id: 'sim-01', action: 'off' });
    expect(held.failure?.error.code, held.text).toBe('APPROVAL_REQUIRED');
    const approvalId = held.failure!.error.details!['approvalId'] as string;
    expect(fleet.bmcs[0]!.bmc.host.poweredOn).toBe(true);

    const early = await call(client, 'power_action', { server_id: 'sim-01', action: 'off', approval_id: approvalId });
    expect(early.failure?.error.code, early.text).toBe('APPROVAL_REQUIRED');
    // An approval is for one call: the same action on another server does not spend it.
    const other = await call(client, 'power_action', { server_id: 'lab-01', action: 'off', approval_id: approvalId });
    expect(other.failure?.error.code, other.text).toBe('NOT_FOUND');

    const pending = await api(stack.adminToken, 'GET', '/v1/automation/approvals?tenant=demo&status=pending');
    expect((pending.body['approvals'] as { id: string; tool: string; requestedBy: string }[]).find((approval) => approval.id === approvalId)).toMatchObject({ tool: 'power_action', requestedBy: 'operator' });
    const approved = await api(stack.adminToken, 'POST', `/v1/automation/approvals/${approvalId}/approve?tenant=demo`);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);

    const done = await call(client, 'power_action', { server_id: 'sim-01', action: 'off', approval_id: approvalId });
    expect(done.structured, done.text).toMatchObject({ server_id: 'sim-01', server_ids: ['sim-01'] });
    await eventually('the BMC to be off', 20_000, async () => (fleet.bmcs[0]!.bmc.host.poweredOn ? undefined : true));
    const again = await call(client, 'power_action', { server_id: 'sim-01', action: 'off', approval_id: approvalId });
    expect(again.failure?.error.code, again.text).toBe('POLICY_DENIED');
    // `on` needs no approval under this policy.
    const on = await call(client, 'power_action', { server_id: 'sim-01', action: 'on' });
    expect(on.result.isError, on.text).toBeFalsy();
  }, 90_000);

  it('runs a bulk job through the same service as POST /v1/bulk: a dry run lists, a job reports each server', async () => {
    const client = await mcp(stack.operatorToken);
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    expect(tools).not.toContain('bulk_action'); // not enabled by demo's policy yet
    const policy = await api(stack.adminToken, 'GET', '/v1/automation/policy?tenant=demo');
    const enabled = { ...(policy.body['policy'] as Record<string, unknown>) };
    enabled['tools'] = [...(enabled['tools'] as string[]), 'bulk_action', 'bulk_status'];
    expect((await api(stack.adminToken, 'PUT', '/v1/automation/policy?tenant=demo', enabled)).status).toBe(200);

    const dry = await call(client, 'bulk_action', { selector: {}, operation: { kind: 'power', action: 'cycle' }, dry_run: true });
    expect(dry.structured, dry.text).toMatchObject({ job_id: null, dry_run: true, total: 2 });
    expect([...(dry.structured?.['server_ids'] as string[])].sort()).toEqual(['lab-01', 'sim-01']);
    const job = await call(client, 'bulk_action', { selector: { ids: ['sim-01', 'bravo-01'] }, operation: { kind: 'sensors.read' }, wait_seconds: 60 });
    expect(job.structured, job.text).toMatchObject({ dry_run: false, total: 1, state: 'finished', succeeded: 1, failed: 0, server_ids: ['sim-01'] });
    const status = await call(client, 'bulk_status', { job_id: job.structured?.['job_id'] });
    expect(status.structured, status.text).toMatchObject({ state: 'finished', succeeded: 1 });
    // Held like a single power off: the policy's approvals cover bulk jobs too.
    const held = await call(client, 'bulk_action', { selector: { ids: ['sim-01'] }, operation: { kind: 'power', action: 'off' } });
    expect(held.failure?.error.code, held.text).toBe('APPROVAL_REQUIRED');
  }, 90_000);

  it("the MCP Inspector's CLI lists the tools and reads power_status from ipmi_sim", async () => {
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, [inspectorCli, `${stack.relayUrl}/mcp`, '--transport', 'http', '--header', `Authorization: Bearer ${stack.operatorToken}`, ...args], {
        // It finds its own package.json as `../package.json` relative to the working directory (fs.existsSync), so it runs from its build folder.
        cwd: dirname(inspectorCli),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, `${stdout}\n${stderr}`).toBe(0);
      return JSON.parse(stdout.slice(stdout.indexOf('{'))) as Record<string, unknown>;
    };
    const listed = await run(['--method', 'tools/list']);
    expect((listed['tools'] as { name: string }[]).map((tool) => tool.name)).toEqual(expect.arrayContaining(['power_status', 'list_servers', 'console_tail']));
    const status = await run(['--method', 'tools/call', '--tool-name', 'power_status', '--tool-arg', 'server_id=lab-01']);
    expect(status['structuredContent']).toMatchObject({ server_id: 'lab-01', server_ids: ['lab-01'] });
  }, 90_000);
});
