import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerEntry } from '@lightsout/agent';
import { viewFirstFrame } from '@lightsout/agent/testing';
import { type IpmiSimLab, type VncPeer, type WebsockifyPeer, startIpmiSim, startWebsockify, startX11vnc } from '@lightsout/lab';
import { type StreamChain, startStreamChain } from '../src/stream-chain.js';
import { openSessionDuplex } from './stream-duplex.js';
import { until } from '@lightsout/lab/wait';

/**
 * The stream plane against real third-party BMC peers: OpenIPMI's ipmi_sim
 * (SOL), x11vnc (RFB over TCP, None and VNC auth) and websockify in front of
 * x11vnc (RFB over WebSocket). Client → relay → agent → peer, real sockets.
 */
const users = { operator: { subject: 'u-op', username: 'operator', tenant: 'demo', role: 'operator' as const } };

describe('SOL through the chain to ipmi_sim', () => {
  let lab: IpmiSimLab;
  let chain: StreamChain;
  beforeAll(async () => {
    lab = await startIpmiSim();
    const server: ServerEntry = {
      id: 'sol-01',
      name: 'sol-01',
      tenant: 'demo',
      rack: 'r1',
      labels: {},
      ipmi: { host: lab.host, port: lab.port, credentials: { username: 'admin', password: 'adminpass' }, cipherSuite: 3, privilege: 'administrator', quirks: [] } as never,
    };
    chain = await startStreamChain({ users, agents: { 'agent-a': [server] } });
  }, 60_000);
  afterAll(async () => {
    await chain?.close();
    await lab?.stop();
  });

  it('carries random bytes both ways byte-exact', async () => {
    const session = await chain.createSession('operator', 'sol-01', 'sol');
    const received: Buffer[] = [];
    let bytes = 0;
    const client = chain.connect(session, {
      onData: (chunk) => {
        received.push(Buffer.from(chunk));
        bytes += chunk.length;
      },
    });
    await until(() => client.state === 'streaming', 20_000, 'streaming');
    await lab.uart.waitForSolConnection(10_000);
    const upstream = randomBytes(16 * 1024);
    client.write(upstream);
    const atHost = await lab.uart.waitForReceived((data) => data.length >= upstream.length, 30_000);
    expect(Buffer.from(atHost)).toEqual(upstream);
    const downstream = randomBytes(16 * 1024);
    lab.uart.write(downstream);
    await until(() => bytes >= downstream.length, 30_000, 'host output through SOL');
    expect(Buffer.concat(received)).toEqual(downstream);
    client.close();
  }, 90_000);

  it("gives a second viewer the SOL hub's earlier output exactly once, then live output", async () => {
    const watch = (session: Awaited<ReturnType<StreamChain['createSession']>>) => {
      const received: Buffer[] = [];
      const client = chain.connect(session, { onData: (chunk) => void received.push(Buffer.from(chunk)) });
      return { client, all: () => Buffer.concat(received) };
    };
    const first = watch(await chain.createSession('operator', 'sol-01', 'sol'));
    await until(() => first.client.state === 'streaming', 20_000, 'first streaming');
    await lab.uart.waitForSolConnection(10_000);
    const earlier = Buffer.from(`earlier-${randomBytes(8).toString('hex')}\r\n`);
    lab.uart.write(earlier);
    await until(() => first.all().includes(earlier), 30_000, 'earlier output to the first viewer');
    const second = watch(await chain.createSession('operator', 'sol-01', 'sol'));
    await until(() => second.all().length >= first.all().length, 20_000, 'the scrollback to reach the second viewer');
    // Exactly what the first viewer has (the hub's replay plus what followed), the marker once.
    expect(second.all()).toEqual(first.all());
    expect(second.all().toString('latin1').split(earlier.toString('latin1')).length - 1).toBe(1);
    const later = Buffer.from('later-output\r\n');
    lab.uart.write(later);
    await until(() => second.all().includes(later) && first.all().includes(later), 30_000, 'live output to both');
    expect(second.all()).toEqual(first.all());
    first.client.close();
    second.client.close();
  }, 90_000);
});

describe('VNC through the chain', () => {
  let open: VncPeer;
  let locked: VncPeer;
  let websockify: WebsockifyPeer;
  let chain: StreamChain;
  beforeAll(async () => {
    [open, locked] = await Promise.all([startX11vnc(), startX11vnc({ password: 'vncpass' })]);
    websockify = await startWebsockify({ host: open.host, port: open.port });
    const vncServer = (id: string, url: string, password?: string): ServerEntry => ({
      id,
      name: id,
      tenant: 'demo',
      rack: 'r1',
      labels: {},
      vnc: { url, ...(password ? { credentials: { username: '', password } } : {}) },
    });
    chain = await startStreamChain({
      users,
      agents: {
        'agent-a': [vncServer('vnc-none', open.url), vncServer('vnc-auth', locked.url, 'vncpass'), vncServer('vnc-ws', websockify.url), vncServer('vnc-wrong', locked.url, 'nope')],
      },
    });
  }, 90_000);
  afterAll(async () => {
    await chain?.close();
    await websockify?.stop();
    await Promise.all([open?.stop(), locked?.stop()]);
  });

  for (const [serverId, what] of [
    ['vnc-none', 'x11vnc over TCP, security None'],
    ['vnc-auth', 'x11vnc over TCP with a VNC password the client never sees'],
    ['vnc-ws', 'websockify (RFB over WebSocket) in front of x11vnc'],
  ] as const) {
    it(`a VNC client gets security None and a framebuffer: ${what}`, async () => {
      const session = await chain.createSession('operator', serverId, 'vnc');
      const { duplex, client } = openSessionDuplex(chain, session);
      try {
        const frame = await viewFirstFrame(duplex);
        expect(frame.offered).toMatchObject({ kind: 'types', types: [1] });
        expect(frame.serverInit.width).toBe(open.width);
        expect(frame.serverInit.height).toBe(open.height);
        // x11vnc's first client may see a black frame (lab README); any later one the root colour.
        expect(frame.colourCounts.size).toBeGreaterThan(0);
      } finally {
        client.close();
        duplex.destroy();
      }
    }, 60_000);
  }

  it('refuses the session with BMC_AUTH_FAILED when the agent holds a wrong VNC password', async () => {
    const session = await chain.createSession('operator', 'vnc-wrong', 'vnc');
    let closed: { code: number; reason: string } | undefined;
    const client = chain.connect(session, { onData: () => {}, onClose: (code, reason) => (closed = { code, reason }), resumeForMs: 0 });
    await until(() => closed !== undefined, 30_000, 'close');
    expect(closed!.code).toBe(4502);
    expect(client.state).toBe('closed');
  }, 60_000);
});
