import type { ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type RunningRelay,
  TestControlClient,
  agentConnectToken,
  createJoinTokenAs,
  enrollTestAgent,
  isRefusal,
  loginWithDeviceFlow,
  startRelay,
} from '../testing/index.js';
import type { EventMessage } from './events.js';

let relay: RunningRelay;
let adminToken: string;
let operatorToken: string;

beforeAll(async () => {
  relay = await startRelay();
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operatorToken = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
});
afterAll(async () => {
  await relay.close();
});

/** A feed subscriber that queues messages and lets the test await the next one matching a predicate. */
class Feed {
  private readonly messages: EventMessage[] = [];
  /** Every message ever received, consumed or not. */
  readonly history: EventMessage[] = [];
  private wake: (() => void) | undefined;
  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as EventMessage;
      this.messages.push(message);
      this.history.push(message);
      this.wake?.();
    });
    socket.on('close', () => this.wake?.());
  }

  static open(token: string): Promise<Feed> {
    const socket = new WebSocket(`${relay.url.replace('http', 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new Feed(socket)));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  async next(matches: (message: EventMessage) => boolean, timeoutMs = 5000): Promise<EventMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex(matches);
      if (index >= 0) return this.messages.splice(index, 1)[0]!;
      if (this.socket.readyState !== WebSocket.OPEN) throw new Error('feed closed');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('no matching event in time');
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

const server = (id: string, tenant: string): ServerRegistration => ({ id, name: id, tenant, rack: 'r1', endpoints: {}, capabilities: ['power'] });
const isServer = (id: string, extra: (view: Extract<EventMessage, { type: 'server' }>['server']) => boolean = () => true) => (message: EventMessage) => message.type === 'server' && message.server.id === id && extra(message.server);

describe('GET /v1/events', () => {
  it('refuses the upgrade without a valid token', async () => {
    await expect(Feed.open('garbage')).rejects.toThrow('HTTP 401');
  });

  it('streams a scoped snapshot, then upserts, state, removal and agent offline', async () => {
    const operatorFeed = await Feed.open(operatorToken);
    const adminFeed = await Feed.open(adminToken);
    expect(operatorFeed.socket.protocol).toBe('lightsout.events.v1');
    expect(await operatorFeed.next((message) => message.type === 'servers')).toEqual({ type: 'servers', servers: [] });
    await adminFeed.next((message) => message.type === 'servers');

    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(relay.url, token);
    const agent = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    if (isRefusal(agent)) throw new Error(agent.body.code);
    await agent.next('welcome');
    agent.send({ v: 1, type: 'inventory', servers: [server('demo-1', 'demo'), server('prov-1', 'provider')] });
    await agent.next('inventory-ack');

    expect(await operatorFeed.next(isServer('demo-1'))).toMatchObject({ server: { id: 'demo-1', tenant: 'demo', agent: 'online' } });
    await adminFeed.next(isServer('demo-1'));
    await adminFeed.next(isServer('prov-1'));

    agent.send({ v: 1, type: 'state', serverId: 'demo-1', power: 'on', reachable: true });
    expect(await operatorFeed.next(isServer('demo-1', (view) => view.power === 'on'))).toMatchObject({ server: { power: 'on' } });

    agent.send({ v: 1, type: 'inventory', servers: [server('prov-1', 'provider')] });
    expect(await operatorFeed.next((message) => message.type === 'server-removed')).toEqual({ type: 'server-removed', id: 'demo-1' });
    await adminFeed.next((message) => message.type === 'server-removed' && message.id === 'demo-1');

    await agent.close();
    expect(await adminFeed.next(isServer('prov-1', (view) => view.agent === 'offline'))).toMatchObject({ server: { agent: 'offline' } });

    // The operator never saw the provider tenant's server, in any message.
    expect(operatorFeed.history.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(operatorFeed.history)).not.toContain('prov-1');
    expect(JSON.stringify(adminFeed.history)).toContain('prov-1');
    operatorFeed.socket.close();
    adminFeed.socket.close();
  });

  it('pushes the live-session count and the mounted media of a server, and GET /v1/servers shows them', async () => {
    const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(relay.url, token);
    const agent = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    if (isRefusal(agent)) throw new Error(agent.body.code);
    await agent.next('welcome');
    agent.send({ v: 1, type: 'inventory', servers: [server('badge-1', 'demo')] });
    await agent.next('inventory-ack');
    const feed = await Feed.open(operatorToken);
    const snapshot = await feed.next((message) => message.type === 'servers');
    expect(snapshot).toMatchObject({ servers: [{ id: 'badge-1', sessions: 0, media: null }] });

    // What the streams plugin reports as legs are spliced and end, and the media plugin as a mount settles.
    const activity = relay.app.serverActivity;
    const liveStatus = relay.app.serverLiveStatus;
    activity.sessionStarted('badge-1');
    activity.sessionStarted('badge-1');
    expect(await feed.next(isServer('badge-1', (view) => view.sessions === 2))).toMatchObject({ server: { sessions: 2, media: null } });
    const mounted = { filename: 'debian-12.iso', since: '2026-01-01T00:00:00.000Z', by: 'operator' };
    await liveStatus.setMedia('badge-1', mounted);
    expect(await feed.next(isServer('badge-1', (view) => view.media !== null))).toMatchObject({ server: { sessions: 2, media: mounted } });
    const listed = (await (await fetch(`${relay.url}/v1/servers/badge-1`, { headers: { authorization: `Bearer ${operatorToken}` } })).json()) as Record<string, unknown>;
    expect(listed).toMatchObject({ id: 'badge-1', sessions: 2, media: mounted });

    activity.sessionEnded('badge-1');
    activity.sessionEnded('badge-1');
    await liveStatus.setMedia('badge-1', null);
    await feed.next(isServer('badge-1', (view) => view.sessions === 0 && view.media === null));
    // A report that changes nothing is not pushed again.
    const before = feed.history.length;
    await liveStatus.setMedia('badge-1', null);
    activity.sessionStarted('badge-1');
    await feed.next(isServer('badge-1', (view) => view.sessions === 1));
    expect(feed.history.length).toBe(before + 1);
    activity.sessionEnded('badge-1');
    feed.socket.close();
    await agent.close();
  });
});
