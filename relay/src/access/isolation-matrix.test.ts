import { toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { reflectionV1, reflectionV1alpha } from '@lightsout/shared/rpc';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RouteRecord } from '../plugins/access.js';
import { postgresForThisFile } from '../testing/dialects.js';
import { type RunningRelay, startRelay } from '../testing/index.js';
import { checkLiveRevocations } from '../testing/isolation-live.js';
import { FOREIGN_EXPECTED, NARROWED_EXPECTED, type Outcome, PUBLIC_ROUTE_METHODS, ROLE_OF, RPC_BIDI_STREAMS, RPC_STREAMS, SERVER_ROUTE, classify } from '../testing/isolation-expectations.js';
import { BROKEN_IDENTITIES, FOREIGN_IDENTITIES, ISOLATION_PASSWORD, type IdentityName, type IsolationWorld, NARROWED_IDENTITIES, buildIsolationWorld } from '../testing/isolation-world.js';

/** Routes public for one method only (a CORS preflight), listed by method and path among the public ones. */
const PUBLIC_METHOD_KEYS = new Set(PUBLIC_ROUTE_METHODS.map(([key]) => key));

/**
 * The isolation matrix: EVERY route of the relay (from its own route table,
 * so a route added tomorrow is walked too) × every hostile identity. Asserts
 * the exact status and that no datum of the victim tenant appears in any
 * answer. Runs on SQLite and on a real PostgreSQL.
 */

interface Case {
  route: RouteRecord;
  method: string;
  identity: IdentityName;
}

function pathFor(url: string, world: IsolationWorld): string {
  const values: Record<string, string> = {
    id: url.startsWith('/v1/agents/') ? world.alpha.agentId : url.startsWith('/v1/recordings/') ? world.alpha.recordingId : url.startsWith('/v1/bulk/') ? world.alpha.bulkJobId : world.alpha.serverId,
    userId: world.alpha.revokedUserId,
    grantId: world.alpha.grantId,
    tokenId: world.alpha.tokenId,
    keyId: world.alpha.sshKeyId,
    uploadId: world.alpha.uploadId,
    sessionId: 'c2Vzc2lvbi1vZi1hbHBoYQ',
    uid: 'interaction-of-alpha',
    tenantId: 'alpha',
  };
  return url.replace(/:([A-Za-z]+)/g, (_match, name: string) => values[name] ?? 'x').replace(/\*$/, world.alpha.uploadId);
}

/** A valid body aimed at tenant alpha, so validation passes and the access decision is what answers. */
function bodyFor(method: string, url: string, schema: RouteRecord['schema'], world: IsolationWorld): unknown {
  const known: Record<string, unknown> = {
    'POST /v1/users': { username: 'intruder', password: 'intruder-password-1', role: 'viewer', tenant: 'alpha' },
    'PATCH /v1/users/:userId': { disabled: false },
    'POST /v1/grants': { userId: world.alpha.revokedUserId, selector: { kind: 'servers', ids: [world.alpha.serverId] } },
    'POST /v1/tenants': { id: 'intruder', name: 'Intruder' },
    // The attack: stop recording alpha's consoles, or have its recordings deleted after a day.
    'PUT /v1/tenants/:tenantId/recording-policy': { sol: false, serial: false, vnc: false, retentionDays: 1 },
    'POST /v1/tokens': { name: 'intruder', role: 'viewer', tenant: 'alpha' },
    'POST /v1/servers/:id/power': { action: 'off' },
    // Aimed at alpha's server by id: resolved in the caller's own tenant, it names nothing.
    'POST /v1/bulk': { selector: { ids: [world.alpha.serverId] }, operation: { kind: 'power', action: 'off' } },
    'POST /v1/servers/:id/sessions': { kind: 'sol', mode: 'control' },
    'POST /v1/servers/:id/media': { uploadId: world.alpha.uploadId },
    'POST /v1/agents/join-tokens': { region: 'eu', datacenter: 'fra1', tenants: ['alpha'] },
    'PUT /v1/agents/:id/tenants': { tenants: ['alpha'] },
    'POST /v1/discovered/scan': { agentId: world.alpha.agentId },
    // The attack: adopt a BMC into alpha with a credential set of alpha's agent.
    'POST /v1/discovered/adopt': { agentId: world.alpha.agentId, address: '10.0.8.17', name: 'intruder', tenant: 'alpha', credentials: 'lab' },
    'POST /v1/me/totp': { password: ISOLATION_PASSWORD },
    'POST /v1/me/password': { currentPassword: 'not-the-current-password', newPassword: 'a-new-password-nobody-guesses' },
    'POST /v1/me/totp/confirm': { code: '000000' },
    // The attack: claim alpha's SSH key as one's own.
    'POST /v1/me/ssh-keys': { publicKey: world.alpha.sshPublicKey },
    'POST /v1/me/ssh-certificate': { publicKey: world.alpha.sshPublicKey },
    // The attack: move alpha's server into bravo.
    'PUT /v1/servers/:id/tenant': { tenant: 'bravo' },
    // A tool call on alpha's server through the MCP endpoint (a JSON-RPC answer; the tool result says NOT_FOUND).
    'POST /mcp': { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_server', arguments: { server_id: world.alpha.serverId } } },
    // The RPC procedures (Connect protocol, JSON): each aimed at alpha's server, job or ids.
    ...Object.fromEntries(
      ['ServerService/GetServer', 'PowerService/GetPower', 'BootService/GetBootOverride', 'SensorService/ListSensors', 'EventLogService/ListEventLogEntries', 'EventLogService/ClearEventLog'].map((procedure) => [`POST /lightsout.v1.${procedure}`, { serverId: world.alpha.serverId }]),
    ),
    'POST /lightsout.v1.ServerService/ListServers': {},
    'POST /lightsout.v1.ServerService/WatchServers': {},
    'POST /lightsout.v1.PowerService/SetPower': { serverId: world.alpha.serverId, action: 'POWER_ACTION_OFF' },
    'POST /lightsout.v1.BootService/SetBootOverride': { serverId: world.alpha.serverId, device: 'BOOT_DEVICE_PXE' },
    'POST /lightsout.v1.SessionService/CreateSession': { serverId: world.alpha.serverId, kind: 'SESSION_KIND_SOL', mode: 'SESSION_MODE_CONTROL' },
    'POST /lightsout.v1.BulkService/SubmitBulk': { selector: { ids: [world.alpha.serverId] }, operation: { power: { action: 'POWER_ACTION_OFF' } } },
    'POST /lightsout.v1.BulkService/GetBulkJob': { jobId: world.alpha.bulkJobId },
  };
  const key = `${method} ${url}`;
  if (key in known) return known[key];
  const bodySchema = (schema as { body?: TSchema } | undefined)?.body;
  if (bodySchema === undefined || method === 'GET' || method === 'HEAD') return undefined;
  let created: unknown;
  try {
    created = Value.Create(bodySchema);
  } catch {
    return {}; // a schema typebox cannot invent a value for: the default rule allows 400 for such routes
  }
  if (typeof created === 'object' && created !== null && 'tenant' in created) (created as Record<string, unknown>)['tenant'] = 'alpha';
  return created;
}

function queryFor(schema: RouteRecord['schema']): string {
  const properties = ((schema as { querystring?: { properties?: Record<string, unknown> } } | undefined)?.querystring?.properties ?? {}) as Record<string, unknown>;
  const query = new URLSearchParams();
  if ('tenant' in properties) query.set('tenant', 'alpha');
  if ('leg' in properties) query.set('leg', 'leg-of-alpha');
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

interface Answer {
  status: Outcome;
  body: string;
}

async function httpCase(relay: RunningRelay, method: string, path: string, body: unknown, authorization: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers['authorization'] = authorization;
  if (path.startsWith('/v1/media/uploads')) headers['tus-resumable'] = '1.0.0';
  // Streamable HTTP: a client accepts both a JSON answer and an event stream.
  if (path === '/mcp') headers['accept'] = 'application/json, text/event-stream';
  // An RPC procedure, spoken as the Connect protocol's unary JSON form.
  if (path.startsWith('/lightsout.v1.')) headers['content-type'] = 'application/json';
  const response = await relay.app.inject({ method: method as 'GET', url: path, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: response.statusCode, body: response.body };
}

/** Connect's error codes as the HTTP statuses its unary protocol answers them with (connectrpc.com/docs/protocol#error-codes). */
const CONNECT_STATUS: Record<string, number> = { unauthenticated: 401, permission_denied: 403, not_found: 404, invalid_argument: 400, resource_exhausted: 429, unavailable: 503, internal: 500 };

/**
 * A server-streaming procedure over the Connect protocol (real HTTP, the
 * stream never ends by itself): its first envelope is either a message
 * ('open') or the end of the stream with an error, read as its HTTP status.
 */
async function rpcStreamCase(relay: RunningRelay, path: string, body: unknown, authorization: string | undefined): Promise<Answer> {
  const json = Buffer.from(JSON.stringify(body ?? {}));
  const envelope = Buffer.alloc(5 + json.length);
  envelope.writeUInt32BE(json.length, 1);
  json.copy(envelope, 5);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5000);
  try {
    const response = await fetch(`${relay.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/connect+json', ...(authorization === undefined ? {} : { authorization }) }, body: envelope, signal: abort.signal });
    if (response.status !== 200 || response.body === null) return { status: response.status, body: await response.text() };
    let received = Buffer.alloc(0);
    for await (const chunk of response.body) {
      received = Buffer.concat([received, chunk as Uint8Array]);
      if (received.length < 5 || received.length < 5 + received.readUInt32BE(1)) continue;
      const text = received.subarray(5, 5 + received.readUInt32BE(1)).toString();
      if ((received[0]! & 0x02) === 0) return { status: 'open', body: text };
      const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'internal';
      return { status: CONNECT_STATUS[code] ?? 500, body: text };
    }
    return { status: 'open', body: received.toString() };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** gRPC status codes as the HTTP statuses the matrix expects (the unary Connect mapping). */
const GRPC_STATUS: Partial<Record<Code, number>> = { [Code.Unauthenticated]: 401, [Code.PermissionDenied]: 403, [Code.NotFound]: 404, [Code.InvalidArgument]: 400, [Code.ResourceExhausted]: 429 };

/** Server reflection (a bidirectional stream) over gRPC on HTTP/2: asks for the file of ServerService; its first answer or its error. */
async function reflectionCase(relay: RunningRelay, url: string, authorization: string | undefined): Promise<Answer> {
  const alpha = url.includes('v1alpha');
  const client = createClient(alpha ? reflectionV1alpha.ServerReflection : reflectionV1.ServerReflection, createGrpcTransport({ baseUrl: relay.url }));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5000);
  async function* requests() {
    yield { messageRequest: { case: 'fileContainingSymbol' as const, value: 'lightsout.v1.ServerService' } };
  }
  try {
    for await (const response of client.serverReflectionInfo(requests(), { signal: abort.signal, ...(authorization === undefined ? {} : { headers: { authorization } }) })) {
      // The descriptors in clear (names and all), for the leak check.
      const bytes = alpha ? toBinary(reflectionV1alpha.ServerReflectionResponseSchema, response as reflectionV1alpha.ServerReflectionResponse) : toBinary(reflectionV1.ServerReflectionResponseSchema, response as reflectionV1.ServerReflectionResponse);
      return { status: 'open', body: Buffer.from(bytes).toString('latin1') };
    }
    return { status: 'open', body: '' };
  } catch (error) {
    const connect = ConnectError.from(error);
    return { status: GRPC_STATUS[connect.code] ?? 500, body: connect.rawMessage };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** A real WebSocket handshake: either refused (status + body) or open (first message or close, bounded). */
function websocketCase(relay: RunningRelay, path: string, authorization: string | undefined): Promise<Answer> {
  const token = authorization?.slice('Bearer '.length);
  const protocols = ['lightsout.events.v1', 'lightsout.stream.v1', ...(token === undefined ? [] : [`bearer.${token}`])];
  const socket = new WebSocket(`${relay.url.replace(/^http/, 'ws')}${path}`, protocols, { headers: authorization === undefined ? {} : { authorization } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer on ${path} within 5 s`));
    }, 5000);
    const finish = (answer: Answer) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.terminate();
      resolve(answer);
    };
    socket.once('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => finish({ status: response.statusCode ?? 0, body: text }));
      response.on('error', () => finish({ status: response.statusCode ?? 0, body: text }));
    });
    socket.once('message', (data) => finish({ status: 'open', body: data.toString() }));
    socket.once('close', (code, reason) => finish({ status: 'open', body: `closed ${code} ${reason.toString()}` }));
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The answer of a route × method, whatever protocol it speaks. */
function answerOf(relay: RunningRelay, route: RouteRecord, method: string, path: string, body: unknown, authorization: string | undefined): Promise<Answer> {
  if (route.websocket) return websocketCase(relay, path, authorization);
  if (RPC_BIDI_STREAMS.has(route.url)) return reflectionCase(relay, route.url, authorization);
  if (RPC_STREAMS.has(route.url)) return rpcStreamCase(relay, path, body, authorization);
  return httpCase(relay, method, path, body, authorization);
}

function leaks(world: IsolationWorld, request: string, answer: string, secrets: string[] = world.alpha.secrets): string[] {
  return secrets.filter((secret) => answer.includes(secret) && !request.includes(secret));
}

const postgres = postgresForThisFile();

const dialects: Array<[string, () => Promise<Record<string, unknown>>]> = [
  ['sqlite', async () => ({})],
  [
    'postgres',
    async () => ({ store: { driver: 'postgres', postgresUrl: await postgres().createDatabase('isolation_matrix') } }),
  ],
];

describe.each(dialects)('isolation matrix on %s', (dialect, storeConfig) => {
  let relay: RunningRelay;
  let world: IsolationWorld;
  beforeAll(async () => {
    relay = await startRelay({ config: await storeConfig() });
    world = await buildIsolationWorld(relay);
  }, 120_000);
  afterAll(async () => {
    await relay?.close();
  });

  it('walks every route × identity: exact status, no foreign data', async () => {
    const table = relay.app.routeTable;
    const getUrls = new Set(table.filter((route) => route.methods.includes('GET')).map((route) => route.url));
    const cases: Case[] = [];
    for (const route of table) {
      for (const method of route.methods) {
        // Fastify's automatic HEAD twin of a GET answers the same way without a body.
        if (method === 'HEAD' && getUrls.has(route.url) && !route.url.startsWith('/v1/media/uploads')) continue;
        for (const identity of [...BROKEN_IDENTITIES, ...FOREIGN_IDENTITIES]) cases.push({ route, method, identity });
      }
    }
    const failures: string[] = [];
    const uncovered = new Set<string>();
    const publicRoutes = new Map<string, string>();
    const counts = { total: 0, public: 0, routeMethods: new Set<string>() };
    for (const { route, method, identity } of cases) {
      const key = `${method} ${route.url}`;
      const path = `${pathFor(route.url, world)}${queryFor(route.schema)}`;
      const body = bodyFor(method, route.url, route.schema, world);
      const authorization = world.identities.get(identity);
      const answer = await answerOf(relay, route, method, path, body, authorization);
      counts.total += 1;
      counts.routeMethods.add(key);
      const leaked = leaks(world, `${path} ${JSON.stringify(body ?? null)}`, answer.body);
      if (leaked.length > 0) failures.push(`LEAK ${key} as ${identity}: ${answer.status} contains ${leaked.join(', ')}`);
      const kind = classify(route.url, method);
      if (kind.kind === 'public') {
        publicRoutes.set(PUBLIC_METHOD_KEYS.has(key) ? key : route.url, kind.reason);
        counts.public += 1;
        continue;
      }
      let expected: Outcome | Outcome[];
      if (kind.kind === 'credential' || (BROKEN_IDENTITIES as readonly string[]).includes(identity)) {
        expected = 401;
      } else {
        const role = ROLE_OF[identity as (typeof FOREIGN_IDENTITIES)[number]];
        const rule = FOREIGN_EXPECTED[key];
        if (rule !== undefined) expected = rule(role, identity);
        else if (SERVER_ROUTE.test(route.url)) expected = 404;
        else {
          // A route nobody wrote an expectation for: the matrix does not guess (testing/isolation-expectations.ts).
          uncovered.add(key);
          continue;
        }
      }
      const allowed = Array.isArray(expected) ? expected : [expected];
      if (!allowed.includes(answer.status)) failures.push(`STATUS ${key} as ${identity}: got ${answer.status}, expected ${allowed.join(' or ')} — ${answer.body.slice(0, 160)}`);
    }
    console.log(
      `isolation matrix (${dialect}): ${counts.total} cases = ${counts.routeMethods.size} route methods (${table.length} routes) × ${BROKEN_IDENTITIES.length + FOREIGN_IDENTITIES.length} identities; ` +
        `${counts.public} public-route cases (leak check only: ${[...publicRoutes.keys()].join(' ')}); ` +
        `${uncovered.size} routes without an expectation${uncovered.size > 0 ? ` (${[...uncovered].join(', ')})` : ''}; ${failures.length} failures`,
    );
    expect(failures).toEqual([]);
    expect([...uncovered]).toEqual([]);
    expect(counts.total).toBeGreaterThan(300);
  }, 300_000);

  it('the victim tenant itself sees its data through the same routes (so a leak would be detected)', async () => {
    for (const path of ['/v1/servers', `/v1/servers/${world.alpha.serverId}`, '/v1/audit', '/v1/tokens', '/v1/grants', '/v1/users', '/v1/recordings', `/v1/recordings/${world.alpha.recordingId}`]) {
      const answer = await httpCase(relay, 'GET', path, undefined, world.alphaAdminAuthorization);
      expect(answer.status, path).toBe(200);
      expect(leaks(world, '', answer.body).length, path).toBeGreaterThan(0);
    }
  });

  it('grants narrow within the tenant: a user granted only another server finds no trace of this one, nor of its recordings, theirs included', async () => {
    const table = relay.app.routeTable;
    const getUrls = new Set(table.filter((route) => route.methods.includes('GET')).map((route) => route.url));
    const failures: string[] = [];
    const walked = new Set<string>();
    let total = 0;
    for (const route of table) {
      for (const method of route.methods) {
        if (method === 'HEAD' && getUrls.has(route.url) && !route.url.startsWith('/v1/media/uploads')) continue;
        const key = `${method} ${route.url}`;
        const expected = NARROWED_EXPECTED[key] ?? (SERVER_ROUTE.test(route.url) ? 404 : undefined);
        if (expected === undefined) continue;
        walked.add(key);
        const path = `${pathFor(route.url, world)}${queryFor(route.schema)}`;
        // The tenant's recording (the admin's session) and the viewer's own, both of the server their grants leave out.
        const paths = route.url === '/v1/recordings/:id' ? [path, path.replace(world.alpha.recordingId, world.narrowed.ownRecordingId)] : [path];
        const body = bodyFor(method, route.url, route.schema, world);
        for (const identity of NARROWED_IDENTITIES) {
          for (const walkedPath of paths) {
            const answer = await answerOf(relay, route, method, walkedPath, body, world.narrowed.identities.get(identity));
            total += 1;
            const leaked = leaks(world, `${walkedPath} ${JSON.stringify(body ?? null)}`, answer.body, world.narrowed.secrets);
            if (leaked.length > 0) failures.push(`LEAK ${method} ${walkedPath} as ${identity}: ${answer.status} contains ${leaked.join(', ')}`);
            if (answer.status !== expected) failures.push(`STATUS ${method} ${walkedPath} as ${identity}: got ${answer.status}, expected ${expected} — ${answer.body.slice(0, 160)}`);
          }
        }
      }
    }
    console.log(`grant-narrowed identities (${dialect}): ${total} cases over ${walked.size} route methods; ${failures.length} failures`);
    expect(failures).toEqual([]);
    // Every listed expectation was walked: a renamed route cannot drop out of this check unnoticed.
    expect(Object.keys(NARROWED_EXPECTED).filter((key) => !walked.has(key))).toEqual([]);
    // The same recordings are there for the tenant's admin whose grants do not narrow them (so a leak would be detected).
    const listed = await httpCase(relay, 'GET', '/v1/recordings', undefined, world.alphaAdminAuthorization);
    expect(listed.body).toContain(world.alpha.recordingId);
    expect(listed.body).toContain(world.narrowed.ownRecordingId);
    expect((await httpCase(relay, 'GET', `/v1/recordings/${world.narrowed.ownRecordingId}`, undefined, world.alphaAdminAuthorization)).status).toBe(200);
  }, 300_000);

  it('every revocation ends every long-lived connection within a second: console leg, resume token, event feed, upload in progress', async () => {
    const { failures, timings } = await checkLiveRevocations(relay);
    console.log(`live revocations (${dialect}):\n  ${timings.join('\n  ')}`);
    expect(failures).toEqual([]);
    expect(timings).toHaveLength(6);
  }, 120_000);
});
