import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * Free loopback ports for peers a test starts (tests run in parallel, so
 * peers never use fixed ports). They are taken below the kernel's
 * ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by
 * default), never in it: a port found free there and released is handed
 * to the next outgoing connection of any process (a loaded machine opens
 * thousands), and the peer started on it a moment later dies on
 * EADDRINUSE — as a regional demo's gateway did, six restarts in a row.
 */
const LOWEST = 10_000;

/** The first port of the ephemeral range, where picking stops. */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOWEST + 1000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** A random candidate port for a run of `count`, the whole run below the ephemeral range. */
function candidate(count: number): number {
  const end = ephemeralStart() - count;
  return LOWEST + Math.floor(Math.random() * (end - LOWEST));
}

/** Whether `port` can be bound on `host` now. */
function tcpPortIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

function udpPortIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createSocket('udp4');
    probe.once('error', () => {
      probe.close();
      resolve(false);
    });
    probe.bind(port, host, () => probe.close(() => resolve(true)));
  });
}

const TRIES = 200;

/** A free loopback TCP port below the ephemeral range. */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return freeTcpPortRun(1, host);
}

/**
 * The first of `count` consecutive free loopback ports, for a program that
 * takes one base port and uses the next ones too (the regional demo: the
 * manager on P, its gateways on P+1 …). Each candidate is checked whole.
 */
export async function freeTcpPortRun(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < TRIES; attempt += 1) {
    const base = candidate(count);
    let free = true;
    for (let offset = 0; offset < count && free; offset += 1) free = await tcpPortIsFree(base + offset, host);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free TCP ports on ${host} below ${ephemeralStart()} after ${TRIES} tries`);
}

/** A free loopback UDP port below the ephemeral range (outgoing UDP sockets, the agent's IPMI ones, take ports in it). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < TRIES; attempt += 1) {
    const port = candidate(1);
    if (await udpPortIsFree(port, host)) return port;
  }
  throw new Error(`no free UDP port on ${host} below ${ephemeralStart()} after ${TRIES} tries`);
}
