import { createHash } from 'node:crypto';
import { type SessionCreated, StreamClient } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededBytes, sha256, startSerialWebSocketSourceSink } from '@lightsout/integration/bmc-peers';
import { type Stack, startStack } from '../lib/stack.js';
import { nodeSocketFactory, setTimer } from '../lib/stream-socket.js';
import { until } from '../lib/processes.js';

/**
 * The stream plane as processes: relay and agent are real children (tsx),
 * the BMC side is a /console0-style serial WebSocket. The relay is killed
 * with SIGKILL mid-transfer and started again on the same port and data dir;
 * the client and the agent resume from their byte offsets.
 */
const MIB = 1024 * 1024;
const TOTAL = Number(process.env['LIGHTSOUT_STREAM_TEST_MIB'] ?? 8) * MIB;

async function createSession(stack: Stack, token: string, serverId: string, body: Record<string, unknown>): Promise<{ status: number; body: SessionCreated & { code?: string } }> {
  const response = await fetch(`${stack.relayUrl}/v1/servers/${serverId}/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as SessionCreated & { code?: string } };
}

describe('stream plane end to end (relay and agent processes)', () => {
  let console0: Awaited<ReturnType<typeof startSerialWebSocketSourceSink>>;
  let stack: Stack;

  beforeAll(async () => {
    console0 = await startSerialWebSocketSourceSink(TOTAL);
    stack = await startStack([{ id: 'web-01', serial: { url: console0.url } }]);
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await console0?.close();
  });

  it(`moves ${TOTAL / MIB} MiB each way byte-exact across a kill -9 of the relay`, { timeout: 120_000 }, async () => {
    const created = await createSession(stack, stack.operatorToken, 'web-01', { kind: 'serial' });
    expect(created.status).toBe(201);
    const received = createHash('sha256');
    let receivedBytes = 0;
    const states: string[] = [];
    let closed: string | undefined;
    const client = new StreamClient({
      streamUrl: created.body.streamUrl,
      token: created.body.token,
      socket: nodeSocketFactory(),
      setTimer,
      onData: (chunk) => {
        received.update(chunk);
        receivedBytes += chunk.length;
      },
      onState: (state) => states.push(state),
      onClose: (code, reason) => (closed = `${code} ${reason}`),
    });
    await until(() => client.state === 'streaming', 20_000, 'streaming');
    const upstream = seededBytes(TOTAL, 3);
    let killed = false;
    for (let at = 0; at < upstream.length; at += 256 * 1024) {
      client.write(upstream.subarray(at, at + 256 * 1024));
      if (!killed && at >= TOTAL / 2) {
        killed = true;
        await stack.killRelay();
        await stack.startRelay();
      }
      await until(() => client.canWrite || closed !== undefined, 60_000, 'send window');
      expect(closed).toBeUndefined();
    }
    const sent = await console0.sent;
    await until(
      () => (receivedBytes >= TOTAL && console0.received().bytes >= TOTAL) || closed !== undefined,
      60_000,
      () => `both directions complete (client got ${receivedBytes}, console got ${console0.received().bytes} of ${TOTAL}; client ${client.state}; states ${states.join(',')})`,
    );
    expect(closed).toBeUndefined();
    expect(receivedBytes).toBe(TOTAL);
    expect(received.digest('hex')).toBe(sent.sha256);
    expect(console0.received()).toEqual({ bytes: TOTAL, sha256: sha256(upstream) });
    expect(states).toContain('reconnecting');
    client.close();
  });
});
