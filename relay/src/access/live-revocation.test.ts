import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EventMessage } from '../plugins/events.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';
import { openLiveConsole, resumeOutcome, startLiveUpload } from '../testing/live-connections.js';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * What outlives a request ends when access does (docs/security.md "What
 * ends what"): a tenant move takes every console leg, resume token,
 * recording and mount of the old tenant off the server; a revocation closes
 * the caller's event feed and refuses their upload in progress. Each close
 * is timed: at most a second after the call that caused it answered.
 */
let relay: RunningRelay;
let admin: string;
let agent: ScriptedAgent;
const PASSWORD = 'live-revocation-password';

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function ok(method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>> {
  const answer = await api(method, path, token, body);
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function person(username: string, tenant: string, role: 'viewer' | 'operator'): Promise<{ id: string; token: string }> {
  const created = await ok('POST', '/v1/users', admin, { username, password: PASSWORD, role, tenant });
  return { id: String(created['id']), token: (await loginWithPassword(relay.url, username, PASSWORD)).accessToken };
}

/** Milliseconds from `since` until the socket closes, with its close code. */
function closeOf(socket: WebSocket): Promise<{ code: number; at: number }> {
  return new Promise((resolve) => socket.once('close', (code) => resolve({ code, at: Date.now() })));
}

/** An event feed subscriber: every message kept, and a wait for the next one that matches. */
class Feed {
  readonly messages: EventMessage[] = [];
  readonly closed: Promise<{ code: number; at: number }>;
  private wake: (() => void) | undefined;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as EventMessage);
      this.wake?.();
    });
    this.closed = closeOf(socket);
  }

  static open(token: string): Promise<Feed> {
    const socket = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
    socket.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new Feed(socket)));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
  }

  async next(matches: (message: EventMessage) => boolean, timeoutMs = 5000): Promise<EventMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex(matches);
      if (index >= 0) return this.messages.splice(0, index + 1).at(-1)!;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.socket.readyState !== WebSocket.OPEN) throw new Error('no matching event');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

const snapshotIds = (message: EventMessage) => (message.type === 'servers' ? message.servers.map((server) => server.id).sort() : []);

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  await ok('POST', '/v1/tenants', admin, { id: 'bravo', name: 'Bravo' });
  const server = (id: string) => ({ id, name: id, tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623', redfish: 'https://127.0.0.1:8443' }, capabilities: ['power', 'sol', 'media'] as never[] });
  agent = await ScriptedAgent.start(relay.url, admin, [server('mv-1'), server('feed-1'), server('keep-1')]);
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

describe('a tenant move takes the server from the old tenant at once', () => {
  it('ends the live control leg, refuses the resume token, stops the recording, ejects the mount; the new tenant opens a console', async () => {
    const demoOperator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
    const bravoOperator = await person('bravo-op', 'bravo', 'operator');
    const live = await openLiveConsole(relay, demoOperator, 'mv-1');
    const leg = await agent.until(() => agent.legs.find((candidate) => candidate.sessionId === live.session.sessionId), 'the agent leg');
    live.client.send(Buffer.from('whoami\n'));
    await agent.until(() => leg.typed.includes('whoami'), 'typing to reach the agent');
    expect(relay.app.streams.recorder.isRecording(live.session.sessionId)).toBe(true);
    agent.mounts.set('mv-1', { sha256: 'ab'.repeat(32), filename: 'demo-secret.iso', mountedAt: new Date().toISOString(), mountedBy: 'operator', autoEjectAt: null });

    const started = Date.now();
    expect((await api('PUT', '/v1/servers/mv-1/tenant', admin, { tenant: 'bravo' })).status).toBe(200);
    const closed = await live.closed;
    console.log(`tenant move: console leg closed ${closed.at - started} ms after the PUT was sent`);
    expect(closed.code).toBe(4403);
    expect(closed.at - started).toBeLessThanOrEqual(1000);
    await leg.closed;
    expect(relay.app.streams.recorder.isRecording(live.session.sessionId)).toBe(false);
    // The agent is told, so it opens the console for bravo only; the old tenant's image is ejected and audited.
    await agent.until(() => agent.requests.some((request) => request.op === 'server.assign' && request.params['serverId'] === 'mv-1' && request.params['tenant'] === 'bravo'), 'server.assign');
    await agent.until(() => agent.requests.some((request) => request.op === 'media.eject' && request.params['serverId'] === 'mv-1'), 'media.eject');
    expect(agent.mounts.has('mv-1')).toBe(false);
    const ejected = await waitFor(
      'the eject audited',
      async () => (await relay.app.store.selectFrom('audit').select(['tenant_id', 'details']).where('action', '=', 'media.eject').where('target', '=', 'server:mv-1').executeTakeFirst()) ?? undefined,
    );
    expect(ejected.tenant_id).toBe('demo');
    expect(JSON.parse(ejected.details!)).toMatchObject({ reason: 'server moved to another tenant', filename: 'demo-secret.iso', to: 'bravo' });

    expect(await resumeOutcome(live)).toBe(404);
    expect((await api('POST', '/v1/servers/mv-1/sessions', demoOperator, { kind: 'sol', mode: 'control' })).status).toBe(404);
    const media = await api('GET', '/v1/servers/mv-1/media', bravoOperator.token);
    expect(media.status).toBe(200);
    expect(media.body['image']).toBeNull();
    expect(JSON.stringify(media.body)).not.toContain('demo-secret.iso');

    const bravoConsole = await openLiveConsole(relay, bravoOperator.token, 'mv-1');
    expect(agent.legs.find((candidate) => candidate.sessionId === bravoConsole.session.sessionId)?.tenant).toBe('bravo');
    expect(relay.app.streams.recorder.isRecording(bravoConsole.session.sessionId)).toBe(true);
    bravoConsole.client.close(1000);
    await bravoConsole.closed;
  });
});

describe('revocation closes the event feed within a second', () => {
  it('an API token revoked', async () => {
    const created = await ok('POST', '/v1/tokens', admin, { name: 'feed-bot', role: 'operator', tenant: 'demo' });
    const feed = await Feed.open(String(created['token']));
    await feed.next((message) => message.type === 'servers');
    const started = Date.now();
    await ok('POST', `/v1/tokens/${String(created['id'])}/revoke`, admin);
    const closed = await feed.closed;
    console.log(`API token revoked: event feed closed ${closed.at - started} ms after the call was sent`);
    expect(closed.code).toBe(4403);
    expect(closed.at - started).toBeLessThanOrEqual(1000);
    await expect(Feed.open(String(created['token']))).rejects.toThrow('HTTP 401');
  });

  it('a user disabled, and a user whose password was changed', async () => {
    for (const [username, change] of [
      ['feed-leaver', { disabled: true }],
      ['feed-reset', { password: 'a-new-password-for-feed-reset' }],
    ] as const) {
      const user = await person(username, 'demo', 'operator');
      const feed = await Feed.open(user.token);
      await feed.next((message) => message.type === 'servers');
      // Timed from the answer: hashing a new password is the call's own time, before anything is revoked.
      await ok('PATCH', `/v1/users/${user.id}`, admin, change);
      const answered = Date.now();
      const closed = await feed.closed;
      console.log(`${JSON.stringify(change)}: event feed closed ${closed.at - answered} ms after the call answered`);
      expect(closed.code, username).toBe(4403);
      expect(closed.at - answered, username).toBeLessThanOrEqual(1000);
    }
  });

  it('a grant that narrows the scope sends a snapshot without the servers no longer seen', async () => {
    const user = await person('feed-narrowed', 'demo', 'viewer');
    const feed = await Feed.open(user.token);
    expect(snapshotIds(await feed.next((message) => message.type === 'servers'))).toEqual(expect.arrayContaining(['feed-1', 'keep-1']));
    const started = Date.now();
    await ok('POST', '/v1/grants', admin, { userId: user.id, selector: { kind: 'servers', ids: ['keep-1'] } });
    const narrowed = await feed.next((message) => message.type === 'servers', 1000);
    console.log(`grant narrowed: new snapshot ${Date.now() - started} ms after the call was sent`);
    expect(snapshotIds(narrowed)).toEqual(['keep-1']);
    expect(feed.socket.readyState).toBe(WebSocket.OPEN);
    feed.socket.close();
  });
});

describe('revocation refuses an upload in progress', () => {
  it('a PATCH whose API token is revoked mid-body is answered 403 within a second; the bytes before stay', async () => {
    const created = await ok('POST', '/v1/tokens', admin, { name: 'upload-bot', role: 'operator', tenant: 'demo' });
    const token = String(created['token']);
    const size = 4 * 1024 * 1024;
    const upload = await startLiveUpload(relay, token, size);
    const started = Date.now();
    await ok('POST', `/v1/tokens/${String(created['id'])}/revoke`, admin);
    const answer = await upload.answered;
    upload.abandon();
    console.log(`API token revoked: upload in progress refused ${answer.at - started} ms after the call was sent`);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'FORBIDDEN' });
    expect(answer.at - started).toBeLessThanOrEqual(1000);
    expect(statSync(upload.file).size).toBeLessThan(size);
    const again = await fetch(`${relay.url}${upload.location}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` } });
    expect(again.status).toBe(401);
  });
});
