import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusMessage, StreamClient } from '@lightsout/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededBytes, sha256, startEchoServer, startSourceSinkServer } from '../src/bmc-peers.js';
import { type StreamChain, startStreamChain } from '../src/stream-chain.js';
import { until } from '@lightsout/lab/wait';

const MIB = 1024 * 1024;
/** Bytes per direction; CI default 8 MiB, `LIGHTSOUT_STREAM_TEST_MIB=100` on demand. */
const TOTAL = Number(process.env['LIGHTSOUT_STREAM_TEST_MIB'] ?? 8) * MIB;

const users = {
  alice: { subject: 'u-alice', username: 'alice', tenant: 'acme', role: 'operator' as const },
  bob: { subject: 'u-bob', username: 'bob', tenant: 'acme', role: 'operator' as const },
  vera: { subject: 'u-vera', username: 'vera', tenant: 'acme', role: 'viewer' as const },
  eve: { subject: 'u-eve', username: 'eve', tenant: 'evil', role: 'tenant-admin' as const },
};

function server(id: string, tenant: string, serialUrl: string) {
  return { id, name: id, tenant, rack: 'r1', labels: {}, serial: { url: serialUrl } };
}

describe('stream chain: client → relay → agent → TCP console', () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let chain: StreamChain;
  const open: StreamClient[] = [];

  beforeAll(async () => {
    echo = await startEchoServer();
    chain = await startStreamChain({
      users,
      agents: { 'agent-a': [server('web-01', 'acme', `tcp://127.0.0.1:${echo.port}`)], 'agent-b': [server('evil-01', 'evil', `tcp://127.0.0.1:${echo.port}`)] },
    });
  });
  // Consoles are shared per server: the next test must not find the last one's session still holding control.
  afterEach(async () => {
    for (const client of open.splice(0)) if (client.state !== 'closed') client.close();
    await until(() => [...chain.agents.values()].every((agent) => agent.streams.sessionCount === 0), 5000, 'sessions to end');
  });
  afterAll(async () => {
    await chain?.close();
    await echo?.close();
  });

  function collect(session: Awaited<ReturnType<StreamChain['createSession']>>) {
    const received: Buffer[] = [];
    let bytes = 0;
    const statuses: StatusMessage[] = [];
    const closed: { code?: number; reason?: string } = {};
    const client = chain.connect(session, {
      onData: (chunk) => {
        received.push(Buffer.from(chunk));
        bytes += chunk.length;
      },
      onStatus: (status) => statuses.push(status),
      onClose: (code, reason) => Object.assign(closed, { code, reason }),
    });
    open.push(client);
    return { client, received, statuses, closed, bytes: () => bytes };
  }

  /** Write `data` respecting the send window (the CLI does the same with stdin). */
  async function writeAll(client: StreamClient, data: Buffer): Promise<void> {
    const chunk = 256 * 1024;
    for (let at = 0; at < data.length; at += chunk) {
      const more = client.write(data.subarray(at, at + chunk));
      if (!more) await until(() => client.canWrite, 30_000, 'send window');
    }
  }

  it('echoes bytes exactly, in order', async () => {
    const session = await chain.createSession('alice', 'web-01', 'serial');
    expect(session.streamUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/streams\//);
    const peer = collect(session);
    await until(() => peer.client.state === 'streaming', 5000, 'streaming');
    peer.client.write(Buffer.from('hello\r\n'));
    await until(() => peer.bytes() >= 7, 5000, 'echo');
    expect(Buffer.concat(peer.received).toString()).toBe('hello\r\n');
    expect(peer.statuses.at(-1)).toMatchObject({ type: 'status', mode: 'control', controller: 'alice' });
  });

  it('shares a console: the holder sees who joined, a viewer cannot type, take-over moves control', async () => {
    const alice = collect(await chain.createSession('alice', 'web-01', 'serial'));
    await until(() => alice.client.state === 'streaming', 5000, 'alice streaming');
    const bob = collect(await chain.createSession('bob', 'web-01', 'serial'));
    await until(() => bob.client.state === 'streaming', 5000, 'bob streaming');
    await until(() => alice.statuses.some((status) => status.event === 'joined' && status.user === 'bob'), 5000, 'alice to see bob join');
    expect(bob.statuses.at(-1)).toMatchObject({ mode: 'view', controller: 'alice' });
    // Bob types while watching: dropped. Alice types: both see the echo.
    bob.client.write(Buffer.from('ignored'));
    alice.client.write(Buffer.from('from-alice'));
    await until(() => bob.bytes() >= 10 && alice.bytes() >= 10, 5000, 'echo to both');
    expect(Buffer.concat(bob.received).toString()).toBe('from-alice');
    // Bob asks for control; alice is told and becomes a viewer.
    bob.client.control({ type: 'take-over' });
    await until(() => alice.statuses.some((status) => status.event === 'took-over' && status.user === 'bob'), 5000, 'take-over status');
    expect(alice.statuses.at(-1)).toMatchObject({ mode: 'view', controller: 'bob' });
    alice.client.write(Buffer.from('dropped'));
    bob.client.write(Buffer.from('from-bob'));
    await until(() => alice.bytes() >= 18, 5000, 'echo of bob');
    expect(Buffer.concat(alice.received).toString()).toBe('from-alicefrom-bob');
    // A viewer session (role viewer) joins read-only.
    const vera = collect(await chain.createSession('vera', 'web-01', 'serial'));
    await until(() => vera.client.state === 'streaming' && vera.statuses.length > 0, 5000, 'vera streaming');
    expect(vera.statuses.at(-1)).toMatchObject({ mode: 'view', controller: 'bob' });
  });

  it('gives a viewer who joins later the earlier console output exactly once, then live output', async () => {
    const alice = collect(await chain.createSession('alice', 'web-01', 'serial'));
    await until(() => alice.client.state === 'streaming', 5000, 'alice streaming');
    alice.client.write(Buffer.from('before-bob\r\n'));
    await until(() => alice.bytes() >= 12, 5000, 'echo to alice');
    const bob = collect(await chain.createSession('bob', 'web-01', 'serial'));
    await until(() => bob.bytes() >= 12, 5000, 'the scrollback to reach bob');
    expect(Buffer.concat(bob.received).toString()).toBe('before-bob\r\n');
    alice.client.write(Buffer.from('after'));
    await until(() => bob.bytes() >= 17 && alice.bytes() >= 17, 5000, 'live echo to both');
    expect(Buffer.concat(bob.received).toString()).toBe('before-bob\r\nafter');
    expect(Buffer.concat(alice.received).toString()).toBe('before-bob\r\nafter');
  });

  it(`carries ${TOTAL / MIB} MiB of random bytes through the echo byte-exact`, async () => {
    const data = seededBytes(TOTAL, 7);
    const session = await chain.createSession('alice', 'web-01', 'serial');
    const peer = collect(session);
    await until(() => peer.client.state === 'streaming', 5000, 'streaming');
    await writeAll(peer.client, data);
    await until(() => peer.bytes() >= TOTAL, 120_000, 'all bytes back');
    expect(peer.bytes()).toBe(TOTAL);
    expect(sha256(Buffer.concat(peer.received))).toBe(sha256(data));
  });

  it('resumes without loss or duplication across a relay restart and an agent leg drop, both directions', async () => {
    const sourceSink = await startSourceSinkServer(TOTAL);
    const resumeChain = await startStreamChain({ users, agents: { 'agent-a': [server('web-02', 'acme', `tcp://127.0.0.1:${sourceSink.port}`)] } });
    try {
      const session = await resumeChain.createSession('alice', 'web-02', 'serial');
      const received = createHash('sha256');
      let receivedBytes = 0;
      const states: string[] = [];
      const client = resumeChain.connect(session, {
        onData: (chunk) => {
          received.update(chunk);
          receivedBytes += chunk.length;
        },
        onState: (state) => states.push(state),
      });
      await until(() => client.state === 'streaming', 5000, 'streaming');
      const upstream = seededBytes(TOTAL, 11);
      let restarted = false;
      let severed = false;
      const chunk = 256 * 1024;
      for (let at = 0; at < upstream.length; at += chunk) {
        client.write(upstream.subarray(at, at + chunk));
        if (!restarted && at >= TOTAL / 3) {
          restarted = true;
          await resumeChain.restartRelay();
        }
        if (!severed && at >= (2 * TOTAL) / 3) {
          severed = true;
          await until(() => client.state === 'streaming', 20_000, 'resumed after restart');
          resumeChain.agents.get('agent-a')!.streams.severLegs();
        }
        await until(() => client.canWrite, 30_000, 'send window');
      }
      const sent = await sourceSink.sent;
      await until(() => receivedBytes >= TOTAL && sourceSink.received().bytes >= TOTAL, 120_000, 'both directions complete');
      expect(receivedBytes).toBe(TOTAL);
      expect(received.digest('hex')).toBe(sent.sha256);
      expect(sourceSink.received()).toEqual({ bytes: TOTAL, sha256: sha256(upstream) });
      expect(states.filter((state) => state === 'reconnecting').length).toBeGreaterThanOrEqual(2);
      // The recording holds every byte the BMC sent exactly once, although legs overlapped after each resume.
      const recorded = join(resumeChain.dataDir, 'recordings', `${session.sessionId}.bytes`);
      await until(() => existsSync(recorded) && statSync(recorded).size >= TOTAL, 30_000, 'the recording to be written');
      expect(sha256(readFileSync(recorded))).toBe(sent.sha256);
      const listed = (await (await fetch(`${resumeChain.relayUrl}/v1/recordings`, { headers: { authorization: 'Bearer alice' } })).json()) as { recordings: { id: string }[] };
      expect(listed.recordings.map((recording) => recording.id)).toContain(session.sessionId);
      const cast = await fetch(`${resumeChain.relayUrl}/v1/recordings/${session.sessionId}`, { headers: { authorization: 'Bearer alice' } });
      expect(cast.headers.get('content-type')).toContain('application/x-asciicast');
      const [header, firstEvent] = (await cast.text()).split('\n');
      expect(JSON.parse(header!)).toMatchObject({ version: 2, width: 80, height: 24 });
      expect(JSON.parse(firstEvent!)).toMatchObject([expect.any(Number), 'o', expect.any(String)]);
      // Another tenant neither sees nor downloads it.
      expect((await fetch(`${resumeChain.relayUrl}/v1/recordings/${session.sessionId}`, { headers: { authorization: 'Bearer eve' } })).status).toBe(404);
      const theirs = (await (await fetch(`${resumeChain.relayUrl}/v1/recordings`, { headers: { authorization: 'Bearer eve' } })).json()) as { recordings: unknown[] };
      expect(theirs.recordings).toEqual([]);
      client.close();
    } finally {
      await resumeChain.close();
      await sourceSink.close();
    }
  });
});
