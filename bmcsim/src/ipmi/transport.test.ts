import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@lightsout/lab/wait';
import { DEFAULT_FAULTS } from '../bmc/config.js';
import { UdpTransport } from './transport.js';

// The fault edge with a scripted random source, seen by a real UDP receiver.

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function receiver(): Promise<{ socket: Socket; port: number; received: string[]; waitFor(count: number): Promise<void> }> {
  const socket = createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (message) => received.push(message.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => socket.close(() => resolve())));
  const untilReceived = async (count: number) => {
    await waitFor(() => `${count} datagrams (only ${received.length})`, () => received.length >= count, { timeoutMs: 2000, wake: (wake) => (socket.on('message', wake), () => socket.off('message', wake)) });
  };
  return { socket, port: socket.address().port, received, waitFor: untilReceived };
}

describe('UdpTransport faults', () => {
  it('reorders: a held-back datagram is overtaken by the next one', async () => {
    const sink = await receiver();
    const draws = [0.0, 0.99, 0.99]; // hold the first datagram only
    const transport = new UdpTransport({ ...DEFAULT_FAULTS, udpReorderPercent: 50 }, () => undefined, () => draws.shift() ?? 0.99);
    await transport.bind(0, '127.0.0.1');
    closers.push(() => transport.close());
    for (const text of ['one', 'two', 'three']) transport.send(Buffer.from(text), { address: '127.0.0.1', port: sink.port });
    await sink.waitFor(3);
    expect(sink.received).toEqual(['two', 'three', 'one']);
  });

  it('loses exactly the datagrams the random source picks, both ways', async () => {
    const sink = await receiver();
    const draws = [0.1, 0.9, 0.1, 0.9]; // 50 % loss: lose, keep, lose, keep
    const inbound: string[] = [];
    const transport = new UdpTransport({ ...DEFAULT_FAULTS, udpLossPercent: 50 }, (datagram) => inbound.push(Buffer.from(datagram).toString()), () => draws.shift() ?? 0.9);
    const port = await transport.bind(0, '127.0.0.1');
    closers.push(() => transport.close());
    transport.send(Buffer.from('lost'), { address: '127.0.0.1', port: sink.port });
    transport.send(Buffer.from('kept'), { address: '127.0.0.1', port: sink.port });
    await sink.waitFor(1);
    sink.socket.send('in-lost', port, '127.0.0.1');
    sink.socket.send('in-kept', port, '127.0.0.1');
    sink.socket.send('marker', port, '127.0.0.1');
    await waitFor(() => `the marker inbound (inbound ${inbound.join(',')})`, () => inbound.includes('marker'), { timeoutMs: 2000, intervalMs: 5 });
    expect(sink.received).toEqual(['kept']);
    expect(inbound).toEqual(['in-kept', 'marker']);
  });
});
