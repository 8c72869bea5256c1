import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * A free loopback port, found by binding port 0 and releasing it. Tests run
 * in parallel, so peers never use fixed ports.
 */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether `port` can be bound on `host` now. */
function tcpPortIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive free loopback ports, for a program that
 * takes one base port and uses the next ones too (the regional demo: the
 * manager on P, its gateways on P+1 …). A free port's neighbours are often
 * taken by parallel tests, so each candidate is checked whole.
 */
export async function freeTcpPortRun(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = await freeTcpPort(host);
    if (base + count - 1 > 65535) continue;
    let free = true;
    for (let offset = 1; offset < count && free; offset += 1) free = await tcpPortIsFree(base + offset, host);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports on ${host} after 50 tries`);
}

export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
