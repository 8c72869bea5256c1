import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type AuditRecord, type SessionCreated, StreamClient, verifyAuditChain } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { BMCSIM_CREDENTIALS, type Bmcsim, startBmcsim } from '../lib/bmcsim.js';
import { startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { eventually, until } from '../lib/processes.js';
import { type Stack, startStack } from '../lib/stack.js';
import { nodeSocketFactory, sessionConnection } from '../lib/stream-socket.js';

/**
 * PostgreSQL stopped and started under a running deployment (a manager and
 * two gateways, processes; an agent on the first gateway; a simulated BMC and
 * a serial console that echoes). While the database is down every replica
 * answers what needs it with STORE_UNAVAILABLE (503) within a bound, never a
 * hang or a bare 500, and a console already spliced keeps streaming. Once it
 * is back, each replica reconnects by itself — its pool, its cluster bus
 * LISTEN connection (a request routed through the bus reaches the agent
 * again), its heartbeat — nothing written during the outage exists, and the
 * audit chain verifies.
 */
const postgres = postgresForThisFile();
const MANAGER = 0;
const HOLDER = 1;
const OTHER = 2;
/** Longest a request may take to fail while the database is down: a refused connection is immediate. */
const OUTAGE_ANSWER_MS = 10_000;

let directory: string;
let bmc: Bmcsim | undefined;
let echo: Awaited<ReturnType<typeof startSerialWebSocketEcho>> | undefined;
let stack: Stack;

async function api(index: number, method: string, path: string, body?: unknown, username = 'operator'): Promise<{ status: number; body: Record<string, unknown>; text: string; ms: number }> {
  const token = await stack.tokenAt(index, username);
  const started = performance.now();
  const response = await fetch(`${stack.relayUrls[index]}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    // A hang is a failure of its own: the fetch gives up well after the bound the test checks.
    signal: AbortSignal.timeout(3 * OUTAGE_ANSWER_MS),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // NDJSON (the audit export) or empty.
  }
  return { status: response.status, body: parsed, text, ms: performance.now() - started };
}

/** The LISTEN connections of the replicas' cluster buses, as PostgreSQL counts them. */
async function busConnections(): Promise<number> {
  const client = new pg.Client({ connectionString: postgres().url });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>("select count(*) as count from pg_stat_activity where application_name = 'lightsout-cluster-bus'");
    return Number(result.rows[0]!.count);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-pg-restart-'));
  bmc = await startBmcsim(directory, 'pg-restart');
  echo = await startSerialWebSocketEcho();
  stack = await startStack([{ id: 'sim-01', ...bmc.endpoints }, { id: 'con-01', serial: { url: echo.url } }], {
    relays: 3,
    postgresUrl: postgres().url,
    roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu' }, { role: 'gateway', region: 'eu' }],
    agentRelays: [HOLDER, OTHER],
    agentEnv: BMCSIM_CREDENTIALS.env,
    agentCredentials: BMCSIM_CREDENTIALS.entries,
  });
}, 180_000);
afterAll(async () => {
  await stack?.close();
  await echo?.close();
  await bmc?.stop();
  rmSync(directory, { recursive: true, force: true });
});

describe('a PostgreSQL restart under a manager and two gateways', () => {
  it('replicas fail with STORE_UNAVAILABLE while it is down, reconnect by themselves, nothing is half-written, the audit chain verifies', { timeout: 240_000 }, async () => {
    // Before: a routed request works, and a console is open through the gateway holding the agent.
    expect((await api(MANAGER, 'POST', '/v1/servers/sim-01/power', { action: 'status' })).status).toBe(200);
    expect(await busConnections()).toBe(3);
    const created = await api(MANAGER, 'POST', '/v1/servers/con-01/sessions', { kind: 'serial' });
    expect(created.status, created.text).toBe(201);
    const session = created.body as unknown as SessionCreated;
    const output: Buffer[] = [];
    const states: string[] = [];
    let closed: string | undefined;
    const client = new StreamClient({
      ...sessionConnection(session, nodeSocketFactory()),
      onData: (chunk) => output.push(Buffer.from(chunk)),
      onState: (state) => states.push(state),
      onClose: (code, reason) => (closed = `${code} ${reason}`),
    });
    await until(() => client.state === 'streaming' || closed !== undefined, 30_000, 'the console streaming');
    let typed = '';
    const typeAndEcho = async (line: string, what: string) => {
      typed += line;
      client.write(Buffer.from(line));
      await until(() => Buffer.concat(output).toString() === typed || closed !== undefined, 30_000, `${what}: the echo`);
      expect(closed, what).toBeUndefined();
    };
    await typeAndEcho('before the outage\r\n', 'before');
    // Signed in before the outage (signing in needs the store).
    for (const index of [MANAGER, HOLDER, OTHER]) for (const username of ['operator', 'admin']) await stack.tokenAt(index, username);

    await postgres().stopServer();
    try {
      // Every replica: reads, writes, BMC operations and new consoles fail with the typed error, at once.
      const attempts: [string, number, string, string, unknown?, string?][] = [
        ['servers at the manager', MANAGER, 'GET', '/v1/servers'],
        ['servers at a gateway', OTHER, 'GET', '/v1/servers'],
        ['a user created at the manager', MANAGER, 'POST', '/v1/users', { username: 'made-during-outage', password: 'A-long-enough-passphrase-1', role: 'operator', tenant: 'demo' }, 'admin'],
        ['power status at the holding gateway', HOLDER, 'POST', '/v1/servers/sim-01/power', { action: 'status' }],
        ['power status routed from the manager', MANAGER, 'POST', '/v1/servers/sim-01/power', { action: 'status' }],
        ['a console session at a gateway', OTHER, 'POST', '/v1/servers/con-01/sessions', { kind: 'serial' }],
      ];
      for (const [what, index, method, path, body, username] of attempts) {
        const answer = await api(index, method, path, body, username);
        expect({ what, status: answer.status, code: answer.body['code'] }).toEqual({ what, status: 503, code: 'STORE_UNAVAILABLE' });
        expect(answer.ms, what).toBeLessThan(OUTAGE_ANSWER_MS);
      }
      for (const url of stack.relayUrls) expect((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(OUTAGE_ANSWER_MS) })).status, url).toBe(503);
      // A console already spliced reads nothing from the store: it streams on.
      await typeAndEcho('during the outage\r\n', 'during');
    } finally {
      await postgres().startServer();
    }

    const restartedAt = performance.now();
    // Each replica comes back by itself: its pool answers, its bus LISTENs again, its heartbeat makes it alive to the others.
    for (const index of [MANAGER, HOLDER, OTHER]) {
      await eventually(`relay ${index} ready again`, 60_000, async () => ((await fetch(`${stack.relayUrls[index]}/readyz`)).status === 200 ? true : undefined));
    }
    await eventually('every replica LISTENing again', 60_000, async () => ((await busConnections()) === 3 ? true : undefined));
    for (const index of [MANAGER, OTHER]) {
      // Routed through the bus to the gateway holding the agent (the manager and the other gateway hold nothing).
      const status = await eventually(`power status through relay ${index}`, 60_000, async () => {
        const answer = await api(index, 'POST', '/v1/servers/sim-01/power', { action: 'status' });
        return answer.status === 200 ? answer : undefined;
      });
      expect(['on', 'off']).toContain(status.body['power']);
    }
    console.log(`PostgreSQL restart: every replica ready, LISTENing and routing again ${(performance.now() - restartedAt).toFixed(0)} ms after the database accepted connections`);
    const servers = await api(MANAGER, 'GET', '/v1/servers');
    expect((servers.body['servers'] as { id: string; agent: string }[]).map((server) => [server.id, server.agent]).sort()).toEqual([
      ['con-01', 'online'],
      ['sim-01', 'online'],
    ]);
    await typeAndEcho('after the outage\r\n', 'after');
    expect(states).not.toContain('reconnecting');
    await client.leave();

    // Nothing written during the outage exists; the same write now succeeds.
    const users = await api(MANAGER, 'GET', '/v1/users?tenant=demo', undefined, 'admin');
    expect(users.status).toBe(200);
    const usernames = (users.body['users'] as { username: string }[]).map((user) => user.username);
    expect(usernames).toContain('operator');
    expect(usernames).not.toContain('made-during-outage');
    const createdAfter = await api(MANAGER, 'POST', '/v1/users', { username: 'made-after-outage', password: 'A-long-enough-passphrase-1', role: 'operator', tenant: 'demo' }, 'admin');
    expect(createdAfter.status, createdAfter.text).toBe(201);

    // The audit chain, as `lightsout audit verify` checks it: every record's hash and every link.
    const exported = await api(MANAGER, 'GET', '/v1/audit/export', undefined, 'admin');
    expect(exported.status).toBe(200);
    const records = exported.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as AuditRecord);
    expect(records.some((record) => record.action === 'user.create' && record.target?.includes('made-after-outage'))).toBe(true);
    const verdict = verifyAuditChain(records, (text) => createHash('sha256').update(text, 'utf8').digest('hex'));
    expect(verdict).toMatchObject({ ok: true, records: records.length });
  });
});
