import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { waitFor } from '@lightsout/lab/wait';
import { isAgentControl, splice, type SpliceOptions } from './splice.js';

/** A status as an agent sends it to every viewer of a console (large enough to be remembered). */
function status(controller: string, viewers: number): Buffer {
  const members = Array.from({ length: viewers }, (_, index) => ({ user: `viewer-${String(index).padStart(3, '0')}`, mode: 'view', attached: true }));
  return Buffer.from(JSON.stringify({ type: 'status', mode: 'view', controller, members }));
}

describe('isAgentControl', () => {
  it('accepts a status, and the same text again from another frame', () => {
    const first = status('alice', 12);
    expect(first.length).toBeGreaterThan(512);
    expect(isAgentControl(first)).toBe(true);
    expect(isAgentControl(Buffer.from(first))).toBe(true);
  });

  it('still checks every text that differs from the one it remembers, however alike', () => {
    const good = status('alice', 12);
    expect(isAgentControl(good)).toBe(true);
    // same length, one byte changed: the type is no longer one the agent may send
    const retyped = Buffer.from(good.toString().replace('"type":"status"', '"type":"statuz"'));
    expect(retyped.length).toBe(good.length);
    expect(isAgentControl(retyped)).toBe(false);
    // a member in a mode that does not exist
    expect(isAgentControl(Buffer.from(good.toString().replace('"user":"viewer-003","mode":"view"', '"user":"viewer-003","mode":"root"')))).toBe(false);
    expect(isAgentControl(Buffer.from('{"type":"status"'))).toBe(false);
    expect(isAgentControl(Buffer.from('not json at all'))).toBe(false);
    // and the remembered one still passes afterwards
    expect(isAgentControl(Buffer.from(good))).toBe(true);
  });

  it('accepts small control messages (acks) without remembering them', () => {
    expect(isAgentControl(Buffer.from('{"type":"ack","offset":42}'))).toBe(true);
    expect(isAgentControl(Buffer.from('{"type":"ack","offset":-1}'))).toBe(false);
  });
});

/** Two real WebSocket pairs on loopback: the relay's server-side ends are spliced, the far ends play client and agent. */
async function splicedPair(options: SpliceOptions = {}) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const accepted: WebSocket[] = [];
  server.on('connection', (socket) => {
    socket.pause();
    accepted.push(socket);
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new WebSocket(url);
  await once(client, 'open');
  const agent = new WebSocket(url);
  await once(agent, 'open');
  await waitFor('both connections accepted', () => accepted.length === 2);
  const received = { client: [] as (string | Buffer)[], agent: [] as (string | Buffer)[] };
  client.on('message', (data: Buffer, isBinary) => received.client.push(isBinary ? data : data.toString()));
  agent.on('message', (data: Buffer, isBinary) => received.agent.push(isBinary ? data : data.toString()));
  const leg = splice(accepted[0]!, accepted[1]!, options);
  return {
    leg,
    client,
    agent,
    received,
    close: async () => {
      leg.close(1000, 'done');
      client.terminate();
      agent.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('splice while the path to the BMC is down', () => {
  it('tells the client, and replaces client input by dropped{bytes} toward both ends instead of forwarding it', async () => {
    const pair = await splicedPair();
    try {
      pair.client.send(Buffer.from('abc'));
      await waitFor('input forwarded', () => pair.received.agent.length === 1);
      expect(pair.received.agent[0]).toEqual(Buffer.from('abc'));

      pair.leg.setPath(false);
      await waitFor('path down told', () => pair.received.client.length === 1);
      expect(pair.received.client[0]).toBe('{"type":"path","state":"down"}');
      pair.client.send(Buffer.from('rm -rf /tmp/x\r'));
      await waitFor('the drop reported', () => pair.received.agent.length === 2 && pair.received.client.length === 2);
      expect(pair.received.agent[1]).toBe('{"type":"dropped","bytes":14}');
      expect(pair.received.client[1]).toBe('{"type":"dropped","bytes":14}');

      pair.leg.setPath(true);
      await waitFor('path up told', () => pair.received.client.length === 3);
      expect(pair.received.client[2]).toBe('{"type":"path","state":"up"}');
      pair.client.send(Buffer.from('ok'));
      await waitFor('input forwarded again', () => pair.received.agent.length === 3);
      expect(pair.received.agent[2]).toEqual(Buffer.from('ok'));
    } finally {
      await pair.close();
    }
  });
});

describe('splice: a client resume', () => {
  it('passes as the first message of a connection and is refused (4001, MALFORMED_MESSAGE) anywhere later', async () => {
    const controls: string[] = [];
    const pair = await splicedPair({ onUpstreamControl: (text) => controls.push(text) });
    try {
      const clientClosed = once(pair.client, 'close');
      const agentClosed = once(pair.agent, 'close');
      pair.client.send('{"type":"resume","offset":0}');
      pair.client.send(Buffer.from('ab'));
      pair.client.send('{"type":"resume","offset":2}');
      const [clientCode] = (await clientClosed) as [number];
      const [agentCode] = (await agentClosed) as [number];
      expect(clientCode).toBe(4001);
      expect(pair.received.client).toEqual(['{"type":"error","code":"MALFORMED_MESSAGE","message":"resume is only the first message of a connection"}']);
      // The agent never sees the late resume (it would replay from there): the leg ends and the session waits for a proper one.
      expect(pair.received.agent).toEqual(['{"type":"resume","offset":0}', Buffer.from('ab')]);
      expect(agentCode).toBe(4000);
      expect(controls).toEqual(['{"type":"resume","offset":0}']);
    } finally {
      await pair.close();
    }
  });
});
