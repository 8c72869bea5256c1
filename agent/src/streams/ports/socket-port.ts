import type { Socket } from 'node:net';
import type { ConsolePort, ConsolePortEvents } from './types.js';

/**
 * The console port of a connected byte socket (a serial console server's
 * TCP, a BMC web UI's TLS): bytes both ways, the socket's own back-pressure,
 * and `events.close(closedBy)` once when the far end goes. Neither raw TCP
 * nor HTTP has a break signal (telnet's RFC 854 IAC BRK would, but these
 * endpoints are raw), so a break sends nothing.
 */
export function socketPort(socket: Socket, events: ConsolePortEvents, closedBy: string): ConsolePort {
  let closed = false;
  socket.on('data', (chunk: Buffer) => events.data(chunk));
  socket.on('drain', () => events.drain());
  // 'close' follows every error: that is where the port ends.
  socket.on('error', () => {});
  socket.once('close', () => {
    if (closed) return;
    closed = true;
    events.close(closedBy);
  });
  return {
    write: (bytes) => socket.write(bytes),
    sendBreak: () => {},
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close: () => {
      socket.destroy();
    },
  };
}
