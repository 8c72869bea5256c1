import type { ServerView } from '@lightsout/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RelayClient } from './relay-client.js';
import { type FeedMode, startServerFeed } from './server-feed.js';

const server = (id: string, power: ServerView['power'] = 'on'): ServerView => ({
  id, name: id, tenant: 't', region: 'r', datacenter: 'd', rack: 'k', labels: {}, endpoints: {}, capabilities: [], agentId: 'a', agent: 'online', power, stateAt: null,
});

// The browser's WebSocket, replaced: the test drives open/message/close.
class FakeSocket {
  static instances: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(readonly url: URL, readonly protocols: string[]) {
    FakeSocket.instances.push(this);
  }
  close() {
    this.closed = true;
  }
}

const flush = async () => {
  for (let index = 0; index < 5; index++) await Promise.resolve();
};

describe('server feed', () => {
  let polls: number;
  let answer: ServerView[];
  const client = { baseUrl: 'https://relay.example', servers: async () => (polls++, answer) } as unknown as RelayClient;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', FakeSocket);
    FakeSocket.instances = [];
    polls = 0;
    answer = [server('a')];
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('polls every few seconds when the relay has no event feed', async () => {
    const modes: FeedMode[] = [];
    const lists: string[][] = [];
    const stop = startServerFeed({ client, accessToken: async () => 'jwt', onServers: (list) => lists.push(list.map((entry) => entry.id)), onMode: (mode) => modes.push(mode), pollMs: 1000 });
    await flush();
    const socket = FakeSocket.instances[0]!;
    expect(socket.url.href).toBe('wss://relay.example/v1/events');
    expect(socket.protocols).toEqual(['lightsout.events.v1', 'bearer.jwt']);
    socket.onclose!(); // refused before opening: no feed on this relay
    await vi.advanceTimersByTimeAsync(1000);
    answer = [server('a'), server('b')];
    await vi.advanceTimersByTimeAsync(1000);
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(lists.at(-1)).toEqual(['a', 'b']);
    expect(modes).toContain('polling');
    // A feed that never opened is tried again, less and less often (2 s, then 4 s, …).
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.instances[1]!.onclose!();
    await vi.advanceTimersByTimeAsync(3000);
    expect(FakeSocket.instances).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.instances).toHaveLength(3);
    stop();
    const before = polls;
    await vi.advanceTimersByTimeAsync(5000);
    expect(polls).toBe(before);
  });

  it('goes live on the event feed: snapshot, upserts and removals, and stops polling', async () => {
    const modes: FeedMode[] = [];
    let latest: ServerView[] = [];
    const stop = startServerFeed({ client, accessToken: async () => 'jwt', onServers: (list) => (latest = list), onMode: (mode) => modes.push(mode), pollMs: 1000 });
    await flush();
    const socket = FakeSocket.instances[0]!;
    socket.onopen!();
    expect(modes.at(-1)).toBe('live');
    socket.onmessage!({ data: JSON.stringify({ type: 'servers', servers: [server('a'), server('b')] }) });
    socket.onmessage!({ data: JSON.stringify({ type: 'server', server: server('b', 'off') }) });
    socket.onmessage!({ data: JSON.stringify({ type: 'server-removed', id: 'a' }) });
    socket.onmessage!({ data: 'not json' });
    expect(latest.map((entry) => [entry.id, entry.power])).toEqual([['b', 'off']]);
    const pollsWhileLive = polls;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(polls).toBe(pollsWhileLive);
    // A drop after it was open: back to polling at once, and the feed is retried.
    socket.onclose!();
    await vi.advanceTimersByTimeAsync(2500);
    expect(polls).toBeGreaterThan(pollsWhileLive);
    expect(FakeSocket.instances).toHaveLength(2);
    stop();
    expect(FakeSocket.instances[1]!.closed).toBe(true);
  });

  it('goes live again by itself after a relay restart, however long the feed stayed down', async () => {
    const modes: FeedMode[] = [];
    const stop = startServerFeed({ client, accessToken: async () => 'jwt', onServers: () => {}, onMode: (mode) => modes.push(mode), pollMs: 1000 });
    await flush();
    FakeSocket.instances[0]!.onopen!();
    FakeSocket.instances[0]!.onclose!(); // the relay went away
    // While it restarts, every new feed socket is refused before opening.
    for (let attempt = 0; attempt < 4; attempt++) {
      await vi.advanceTimersByTimeAsync(15_000);
      FakeSocket.instances.at(-1)!.onclose!();
    }
    expect(modes.at(-1)).toBe('polling');
    await vi.advanceTimersByTimeAsync(15_000);
    const back = FakeSocket.instances.at(-1)!;
    expect(back.closed).toBe(false);
    back.onopen!();
    expect(modes.at(-1)).toBe('live');
    stop();
  });

  it('a poll answered after the feed came back is dropped: it is older than the feed\'s snapshot and updates', async () => {
    let answerPoll: ((servers: ServerView[]) => void) | undefined;
    const slowClient = { baseUrl: 'https://relay.example', servers: () => new Promise<ServerView[]>((resolve) => (answerPoll = resolve)) } as unknown as RelayClient;
    let latest: ServerView[] = [];
    const stop = startServerFeed({ client: slowClient, accessToken: async () => 'jwt', onServers: (list) => (latest = list), onMode: () => {}, pollMs: 1000 });
    await flush();
    answerPoll!([server('a', 'on')]);
    await flush();
    const first = FakeSocket.instances[0]!;
    first.onopen!();
    // The feed drops: a poll starts to carry the list, and is slow to answer.
    first.onclose!();
    await flush();
    const slowPoll = answerPoll!;
    // The feed is back before it answers, and says the server went off.
    await vi.advanceTimersByTimeAsync(1000);
    const second = FakeSocket.instances.at(-1)!;
    expect(second).not.toBe(first);
    second.onopen!();
    second.onmessage!({ data: JSON.stringify({ type: 'servers', servers: [server('a', 'on')] }) });
    second.onmessage!({ data: JSON.stringify({ type: 'server', server: server('a', 'off') }) });
    expect(latest.map((entry) => entry.power)).toEqual(['off']);
    // The poll, sent while the feed was down, answers with what the relay held then.
    slowPoll([server('a', 'on')]);
    await flush();
    expect(latest.map((entry) => entry.power)).toEqual(['off']);
    stop();
  });
});
