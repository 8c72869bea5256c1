import type { TLSSocket } from 'node:tls';
import { LightsoutError } from '@lightsout/shared';
import { socketPort } from './socket-port.js';
import { openTcpPort } from './tcp.js';
import type { ConsolePort, ConsolePortEvents } from './types.js';

/** Where a BMC's web UI listens: the origin from the agent's config (`web.url`). */
export function webTargetOf(url: string): { tls: boolean; host: string; port: number } {
  const parsed = new URL(url);
  const tls = parsed.protocol === 'https:';
  if (!tls && parsed.protocol !== 'http:') throw new LightsoutError('BMC_UNSUPPORTED', `web UI URL scheme not supported: ${parsed.protocol}`, { hint: 'use https:// (or http://)' });
  return { tls, host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: parsed.port === '' ? (tls ? 443 : 80) : Number(parsed.port) };
}

/**
 * One HTTP connection of a BMC's web UI: the relay carries each connection
 * the browser opens as its own stream, and this is that stream's BMC side.
 * The agent terminates the BMC's TLS (checked by `connectTls` against the
 * server's trust policy: CA, pin or trust on first use) and passes plain
 * HTTP/1.1 both ways without parsing it, so requests, responses, streamed
 * bodies and WebSocket upgrades all pass as bytes.
 */
export async function openWebPort(
  url: string,
  events: ConsolePortEvents,
  connectTls: (target: { host: string; port: number }) => Promise<TLSSocket>,
): Promise<ConsolePort> {
  const target = webTargetOf(url);
  if (!target.tls) return openTcpPort(target, events);
  const socket = await connectTls(target);
  socket.setNoDelay(true);
  return socketPort(socket, events, 'the BMC closed the web UI connection');
}
