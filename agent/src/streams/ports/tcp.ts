import { connect, type Socket } from 'node:net';
import { LightsoutError } from '@lightsout/shared';
import { socketPort } from './socket-port.js';
import type { ConsolePort, ConsolePortEvents } from './types.js';

/** `tcp://host:port` or `host:port` → [host, port]. */
export function tcpTargetOf(url: string, defaultPort: number): { host: string; port: number } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `tcp://${url}`;
  const parsed = new URL(withScheme);
  const port = parsed.port === '' ? defaultPort : Number(parsed.port);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new LightsoutError('BAD_REQUEST', `not a host:port endpoint: ${url}`);
  }
  return { host, port };
}

/**
 * A raw TCP byte port: serial console servers (`tcp://host:port`, as ser2net
 * or a terminal server offers) and the bench's TCP sink. Resolves once
 * connected; a refused or silent endpoint is BMC_UNREACHABLE.
 */
export function openTcpPort(target: { host: string; port: number }, events: ConsolePortEvents, timeoutMs = 10_000): Promise<ConsolePort> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: target.host, port: target.port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), timeoutMs);
    const refused = () => {
      clearTimeout(timer);
      reject(new LightsoutError('BMC_UNREACHABLE', `cannot connect to ${target.host}:${target.port}`));
    };
    socket.on('error', () => {});
    socket.once('close', refused);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('close', refused);
      resolve(socketPort(socket, events, 'the console endpoint closed the connection'));
    });
  });
}
