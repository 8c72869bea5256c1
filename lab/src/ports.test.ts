import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { freeTcpPort, freeTcpPortRun, freeUdpPort } from './ports.js';

/** The ports handed to peers are bindable and never in the range the kernel gives outgoing connections. */
const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

const bindTcp = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });

describe('free loopback ports for peers', () => {
  it('TCP: below the ephemeral range, and bindable', async () => {
    for (let i = 0; i < 20; i += 1) {
      const port = await freeTcpPort();
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralStart);
      await bindTcp(port);
    }
  });

  it('a run of consecutive TCP ports: every one of them bindable, the last still below the ephemeral range', async () => {
    const base = await freeTcpPortRun(4);
    expect(base + 3).toBeLessThan(ephemeralStart);
    for (let offset = 0; offset < 4; offset += 1) await bindTcp(base + offset);
  });

  it('UDP: below the ephemeral range, and bindable', async () => {
    const port = await freeUdpPort();
    expect(port).toBeLessThan(ephemeralStart);
    await new Promise<void>((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve()));
    });
  });
});
