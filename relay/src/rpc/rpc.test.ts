import { Code, ConnectError, type Transport, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import type { RequestMessage, ServerRegistration } from '@lightsout/shared';
import {
  BootDevice,
  BootService,
  BulkService,
  ErrorInfoSchema,
  EventLogService,
  PowerAction,
  PowerService,
  PowerState,
  SensorService,
  ServerService,
  SessionKind,
  SessionMode,
  SessionService,
  type WatchServersResponse,
} from '@lightsout/shared/rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../access/api-tokens.js';
import { type AnsweringAgent, type RunningRelay, type TestControlClient, createScopeIdentities, loginWithPassword, startAnsweringAgent, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';
import { ERROR_CODE_METADATA } from './errors.js';

/**
 * The RPC API through a real relay on a loopback port, with a control
 * client answering as an agent with BMCs: every service from a Connect
 * client, over each protocol (Connect and gRPC-Web on HTTP/1.1, gRPC on
 * cleartext HTTP/2 on the same port), and the refusals — no token, another
 * tenant's server, a role without the permission, a flood — answered with
 * the gRPC status and the relay's stable code, audited as REST's are.
 */
const PASSWORD = 'rpc-test-password-1';
let relay: RunningRelay;
let operatorToken: string;
let viewerToken: string;
let bravoToken: string;
let agent: TestControlClient;
let running: AnsweringAgent | undefined;
const power = new Map<string, 'on' | 'off'>();
const ops: string[] = [];

function answer(request: RequestMessage): void {
  const serverId = request.params['serverId'] as string;
  ops.push(`${request.op} ${serverId}`);
  const reply = (result: unknown) => agent.send({ v: 1, type: 'response', id: request.id, ok: true, result });
  switch (request.op) {
    case 'power.get':
      return reply({ power: power.get(serverId) ?? 'on' });
    case 'power.set': {
      const before = power.get(serverId) ?? 'on';
      power.set(serverId, request.params['action'] === 'on' ? 'on' : 'off');
      return reply({ power: before });
    }
    case 'boot.get':
      return reply({ device: 'disk', persistent: true, uefi: true });
    case 'boot.set':
      return reply({ device: request.params['device'], persistent: request.params['persistent'], uefi: true });
    case 'sensors.list':
      return reply({ sensors: [{ name: 'CPU Temp', type: 'temperature', value: 41.5, unit: 'C', status: 'ok' }, { name: 'PSU2', type: 'power', value: null, unit: 'W', status: 'unknown' }] });
    case 'sel.list':
      return reply({ entries: [{ id: 7, time: '2026-01-02T03:04:05.000Z', sensor: 'PSU2', event: 'power supply failure', direction: 'asserted', raw: '00'.repeat(16) }] });
    case 'sel.clear':
      return reply({});
    default:
      agent.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNSUPPORTED', message: request.op } });
  }
}

const server = (id: string, tenant: string, labels: Record<string, string> = {}): ServerRegistration => ({ id, name: `${id}.example`, tenant, rack: 'r1', labels, endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'boot', 'sensors', 'sel', 'sol'] });

async function rest(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

const transports: Array<[string, () => Transport]> = [
  ['Connect (HTTP/1.1)', () => createConnectTransport({ baseUrl: relay.url, httpVersion: '1.1' })],
  ['gRPC (cleartext HTTP/2)', () => createGrpcTransport({ baseUrl: relay.url })],
  ['gRPC-Web (HTTP/1.1)', () => createGrpcWebTransport({ baseUrl: relay.url, httpVersion: '1.1' })],
];

async function refusal(call: Promise<unknown>): Promise<{ status: Code; code: string | null; detail: string | undefined }> {
  const error = await call.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error, 'the call was refused').toBeInstanceOf(ConnectError);
  const connectError = error as ConnectError;
  return { status: connectError.code, code: connectError.metadata.get(ERROR_CODE_METADATA), detail: connectError.findDetails(ErrorInfoSchema)[0]?.code };
}

beforeAll(async () => {
  relay = await startRelay();
  const identities = await createScopeIdentities(relay, 'rpc', PASSWORD);
  const adminToken = identities.adminToken;
  ({ operatorToken, viewerToken, bravoToken } = identities);
  running = await startAnsweringAgent(relay.url, adminToken, 'agent-rpc', [server('rpc-01', 'demo', { role: 'web' }), server('rpc-02', 'demo', { role: 'db' }), server('bravo-01', 'bravo')], answer);
  agent = running.agent;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await relay?.close();
});

describe.each(transports)('every service over %s', (_name, transport) => {
  it('servers, power, boot, sensors, event log, sessions and bulk answer as REST does', async () => {
    const t = transport();
    const servers = createClient(ServerService, t);
    const listed = await servers.listServers({ labels: { role: 'web' } }, bearer(operatorToken));
    expect(listed.servers.map((entry) => entry.id)).toEqual(['rpc-01']);
    expect(listed.servers[0]).toMatchObject({ tenant: 'demo', rack: 'r1', agentOnline: true, capabilities: expect.arrayContaining(['power', 'sol']) });
    expect((await servers.listServers({}, bearer(operatorToken))).servers.map((entry) => entry.id)).toEqual(['rpc-01', 'rpc-02']);
    expect((await servers.getServer({ serverId: 'rpc-02' }, bearer(operatorToken))).server?.labels).toEqual({ role: 'db' });

    const powerClient = createClient(PowerService, t);
    power.set('rpc-01', 'off');
    expect((await powerClient.getPower({ serverId: 'rpc-01' }, bearer(operatorToken))).power).toBe(PowerState.OFF);
    const on = await powerClient.setPower({ serverId: 'rpc-01', action: PowerAction.ON }, bearer(operatorToken));
    expect(on.pending?.target).toBe(PowerState.ON);
    expect(power.get('rpc-01')).toBe('on');

    const boot = createClient(BootService, t);
    expect(await boot.getBootOverride({ serverId: 'rpc-01' }, bearer(operatorToken))).toMatchObject({ device: BootDevice.DISK, persistent: true, uefi: true });
    expect(await boot.setBootOverride({ serverId: 'rpc-01', device: BootDevice.PXE }, bearer(operatorToken))).toMatchObject({ device: BootDevice.PXE, persistent: false });

    const sensors = (await createClient(SensorService, t).listSensors({ serverId: 'rpc-01' }, bearer(operatorToken))).sensors;
    expect(sensors.map((sensor) => [sensor.name, sensor.value])).toEqual([['CPU Temp', 41.5], ['PSU2', undefined]]);

    const eventLog = createClient(EventLogService, t);
    const entries = (await eventLog.listEventLogEntries({ serverId: 'rpc-01' }, bearer(operatorToken))).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ id: 7n, sensor: 'PSU2', asserted: true });
    expect(entries[0]!.time?.seconds).toBe(BigInt(Date.parse('2026-01-02T03:04:05Z') / 1000));
    await eventLog.clearEventLog({ serverId: 'rpc-01' }, bearer(operatorToken));
    expect(ops).toContain('sel.clear rpc-01');

    const session = await createClient(SessionService, t).createSession({ serverId: 'rpc-01', kind: SessionKind.SOL, mode: SessionMode.VIEW }, bearer(operatorToken));
    expect(session).toMatchObject({ serverId: 'rpc-01', kind: SessionKind.SOL, mode: SessionMode.VIEW });
    expect(session.streamUrl).toBe(`${relay.url.replace(/^http/, 'ws')}/v1/streams/${session.sessionId}`);
    expect(session.token.split('.')).toHaveLength(3);

    const bulk = createClient(BulkService, t);
    const dry = await bulk.submitBulk({ selector: { ids: ['rpc-01', 'rpc-02', 'bravo-01'] }, operation: { kind: { case: 'sensorsRead', value: {} } }, dryRun: true }, bearer(operatorToken));
    expect(dry).toMatchObject({ jobId: '', dryRun: true, total: 2 });
    expect(dry.servers.map((target) => target.id)).toEqual(['rpc-01', 'rpc-02']);
    const started = await bulk.submitBulk({ selector: { labels: { role: 'db' } }, operation: { kind: { case: 'sensorsRead', value: {} } } }, bearer(operatorToken));
    expect(started.total).toBe(1);
    const job = await waitFor('the bulk job to finish', async () => {
      const view = await bulk.getBulkJob({ jobId: started.jobId }, bearer(operatorToken));
      return view.finished ? view : undefined;
    });
    expect(job).toMatchObject({ total: 1, succeeded: 1, failed: 0 });
    expect(job.results[0]?.serverId).toBe('rpc-02');
    expect(job.operation?.kind.case).toBe('sensorsRead');
  });

  it('refusals carry the gRPC status and the stable code: no token, another tenant, a missing role, bad input', async () => {
    const t = transport();
    const servers = createClient(ServerService, t);
    expect(await refusal(servers.listServers({}))).toEqual({ status: Code.Unauthenticated, code: 'UNAUTHENTICATED', detail: 'UNAUTHENTICATED' });
    expect(await refusal(servers.listServers({}, bearer('not-a-token')))).toMatchObject({ status: Code.Unauthenticated });
    // Another tenant's server is exactly a missing one, through every procedure that takes an id.
    expect(await refusal(servers.getServer({ serverId: 'rpc-01' }, bearer(bravoToken)))).toEqual({ status: Code.NotFound, code: 'NOT_FOUND', detail: 'NOT_FOUND' });
    expect(await refusal(createClient(PowerService, t).setPower({ serverId: 'rpc-01', action: PowerAction.ON }, bearer(bravoToken)))).toMatchObject({ status: Code.NotFound, code: 'NOT_FOUND' });
    expect((await servers.listServers({}, bearer(bravoToken))).servers.map((entry) => entry.id)).toEqual(['bravo-01']);
    // A viewer reads, never acts.
    expect(await refusal(createClient(PowerService, t).setPower({ serverId: 'rpc-01', action: PowerAction.ON }, bearer(viewerToken)))).toEqual({ status: Code.PermissionDenied, code: 'FORBIDDEN', detail: 'FORBIDDEN' });
    expect(await refusal(createClient(PowerService, t).setPower({ serverId: 'rpc-01', action: PowerAction.UNSPECIFIED }, bearer(operatorToken)))).toMatchObject({ status: Code.InvalidArgument, code: 'VALIDATION_FAILED' });
    expect(await refusal(servers.getServer({ serverId: '../etc' }, bearer(operatorToken)))).toMatchObject({ status: Code.InvalidArgument, code: 'VALIDATION_FAILED' });
    expect(await refusal(createClient(BulkService, t).getBulkJob({ jobId: 'no-such-job' }, bearer(operatorToken)))).toMatchObject({ status: Code.NotFound, code: 'NOT_FOUND' });
  });

  it('WatchServers sends a snapshot of the caller\'s servers, then a power change as it happens', async () => {
    const t = transport();
    const abort = new AbortController();
    const stream = createClient(ServerService, t).watchServers({}, { ...bearer(operatorToken), signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as WatchServersResponse;
    expect(first.event.case).toBe('snapshot');
    expect(first.event.case === 'snapshot' && first.event.value.servers.map((entry) => entry.id)).toEqual(['rpc-01', 'rpc-02']);
    power.set('rpc-02', 'on');
    await createClient(PowerService, t).setPower({ serverId: 'rpc-02', action: PowerAction.OFF }, bearer(operatorToken));
    for (;;) {
      const { value, done } = await iterator.next();
      expect(done).toBe(false);
      const event = (value as WatchServersResponse).event;
      if (event.case === 'server' && event.value.id === 'rpc-02' && event.value.power === PowerState.OFF && event.value.pendingPower === undefined) break;
      // Another tenant's server never shows up on this stream.
      expect(event.case === 'server' && event.value.tenant).not.toBe('bravo');
    }
    abort.abort();
  });
});

describe('WatchServers ends as the event feed does', () => {
  it('a user disabled loses the stream within a second (PERMISSION_DENIED)', async () => {
    const adminToken = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
    const created = await rest(adminToken, 'POST', '/v1/users', { username: 'rpc-leaver', password: PASSWORD, role: 'operator', tenant: 'demo' });
    expect(created.status).toBe(201);
    const leaver = (await loginWithPassword(relay.url, 'rpc-leaver', PASSWORD)).accessToken;
    const iterator = createClient(ServerService, createGrpcTransport({ baseUrl: relay.url })).watchServers({}, bearer(leaver))[Symbol.asyncIterator]();
    expect(((await iterator.next()).value as WatchServersResponse).event.case).toBe('snapshot');
    const ended = (async () => {
      for (;;) await iterator.next();
    })().catch((error: unknown) => ({ error, at: performance.now() }));
    const disabledAt = performance.now();
    expect((await rest(adminToken, 'PATCH', `/v1/users/${String(created.body['id'])}`, { disabled: true })).status).toBe(200);
    const { error, at } = (await ended) as { error: unknown; at: number };
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.PermissionDenied);
    expect((error as ConnectError).metadata.get(ERROR_CODE_METADATA)).toBe('FORBIDDEN');
    expect(at - disabledAt).toBeLessThan(1000);
  });

  it('a watcher that stops reading is cut off at once (RESOURCE_EXHAUSTED) and unsubscribed, its backlog dropped', async () => {
    const subscribers = relay.app.serverEvents.subscriberCount;
    const iterator = createClient(ServerService, createGrpcTransport({ baseUrl: relay.url })).watchServers({}, bearer(operatorToken))[Symbol.asyncIterator]();
    expect(((await iterator.next()).value as WatchServersResponse).event.case).toBe('snapshot');
    expect(relay.app.serverEvents.subscriberCount).toBe(subscribers + 1);
    // Not reading: each change queues two messages (rpc-01, rpc-02) at the relay until the queue is full.
    let changes = 0;
    while (relay.app.serverEvents.subscriberCount > subscribers && changes < 20_000) {
      relay.app.serverEvents.serversChanged(['rpc-01', 'rpc-02']);
      changes += 1;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(relay.app.serverEvents.subscriberCount, `still subscribed after ${changes} changes`).toBe(subscribers);
    let received = 0;
    const error = await (async () => {
      for (;;) {
        const { done } = await iterator.next();
        if (done) return undefined;
        received += 1;
      }
    })().catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((error as ConnectError).metadata.get(ERROR_CODE_METADATA)).toBe('RATE_LIMITED');
    // What the transport had taken before the queue filled, not the queue's 10 000.
    expect(received).toBeLessThan(5_000);
  }, 60_000);

  it('a user disabled gets none of the backlog queued for them: the stream ends ahead of it', async () => {
    const adminToken = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
    const created = await rest(adminToken, 'POST', '/v1/users', { username: 'rpc-backlogged', password: PASSWORD, role: 'operator', tenant: 'demo' });
    expect(created.status).toBe(201);
    const backlogged = createClient(ServerService, createGrpcTransport({ baseUrl: relay.url })).watchServers({}, bearer((await loginWithPassword(relay.url, 'rpc-backlogged', PASSWORD)).accessToken))[Symbol.asyncIterator]();
    expect(((await backlogged.next()).value as WatchServersResponse).event.case).toBe('snapshot');
    // A watcher that reads shows when the relay has handled the changes (both feeds hear each in the same order).
    const abort = new AbortController();
    let markerSeen = false;
    const reading = (async () => {
      // Its own HTTP/2 connection: the unread stream above holds its connection's flow-control window.
      for await (const message of createClient(ServerService, createGrpcTransport({ baseUrl: relay.url })).watchServers({}, { ...bearer(operatorToken), signal: abort.signal })) {
        if (message.event.case === 'removedServerId' && message.event.value === 'rpc-marker') markerSeen = true;
      }
    })().catch(() => undefined);
    const changes = 4_000;
    for (let change = 0; change < changes; change += 1) {
      relay.app.serverEvents.serversChanged(['rpc-01', 'rpc-02']);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    relay.app.serverEvents.serversRemoved([{ id: 'rpc-marker', tenant: 'demo' }]);
    await waitFor('the reading watcher to have every change', () => markerSeen, { timeoutMs: 30_000 });
    abort.abort();
    await reading;
    expect((await rest(adminToken, 'PATCH', `/v1/users/${String(created.body['id'])}`, { disabled: true })).status).toBe(200);
    let received = 0;
    const error = await (async () => {
      for (;;) {
        const { done } = await backlogged.next();
        if (done) return undefined;
        received += 1;
      }
    })().catch((failure: unknown) => failure);
    expect((error as ConnectError).code).toBe(Code.PermissionDenied);
    // What the transport had taken before the user was disabled, not the thousands queued behind it.
    expect(received).toBeLessThan(changes);
  }, 60_000);

  it('a relay that closes ends its watches (OK) instead of waiting for them, and its HTTP/2 sessions', async () => {
    const closing = await startRelay();
    const token = (await loginWithPassword(closing.url, 'operator', closing.credentials.operator.password)).accessToken;
    const iterator = createClient(ServerService, createGrpcTransport({ baseUrl: closing.url })).watchServers({}, bearer(token))[Symbol.asyncIterator]();
    expect(((await iterator.next()).value as WatchServersResponse).event.case).toBe('snapshot');
    const started = performance.now();
    await closing.close();
    expect(await iterator.next()).toMatchObject({ done: true });
    // Fastify's close waited for the port; a watch holding it would have kept it for the shutdown deadline (10 s).
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('the same decisions and records as REST', () => {
  it('a denied call and an action are audited like their REST twins', async () => {
    const t = createGrpcTransport({ baseUrl: relay.url });
    await refusal(createClient(PowerService, t).setPower({ serverId: 'rpc-02', action: PowerAction.ON }, bearer(viewerToken)));
    await createClient(PowerService, t).setPower({ serverId: 'rpc-02', action: PowerAction.ON }, bearer(operatorToken));
    const rows = await relay.app.store.selectFrom('audit').select(['action', 'outcome', 'target', 'details']).where('action', 'in', ['access.denied', 'power.on']).orderBy('seq').execute();
    expect(rows.find((row) => row.action === 'access.denied' && row.target === 'route:POST /lightsout.v1.PowerService/SetPower')).toBeDefined();
    expect(rows.filter((row) => row.action === 'power.on' && row.target === 'server:rpc-02' && row.outcome === 'success').length).toBeGreaterThan(0);
  });

  it('a flood from one token is RATE_LIMITED by the same buckets as REST', async () => {
    const { token } = await createApiToken(relay.app.store, { tenant: 'demo', name: 'rpc-flood', role: 'operator', ttlSeconds: 600, createdBy: 'test' });
    const powerClient = createClient(PowerService, createGrpcTransport({ baseUrl: relay.url }));
    const outcomes = await Promise.all(Array.from({ length: 80 }, () => powerClient.getPower({ serverId: 'rpc-01' }, bearer(token)).then(() => 'ok', (error: unknown) => (error instanceof ConnectError ? `${Code[error.code]} ${error.metadata.get(ERROR_CODE_METADATA)}` : 'other'))));
    expect(outcomes).toContain('ok');
    expect(outcomes).toContain('ResourceExhausted RATE_LIMITED');
    expect(outcomes.filter((outcome) => outcome !== 'ok' && outcome !== 'ResourceExhausted RATE_LIMITED')).toEqual([]);
  });
});
