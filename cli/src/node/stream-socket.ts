import type { Socket } from 'node:net';
import { type SessionCreated, type SetTimer, type StreamSocketFactory, routeLocator, tickBatcher } from '@lightsout/shared';
import WebSocket from 'ws';

/**
 * StreamClient's socket over `ws`. A refused upgrade surfaces as close code
 * 4000 + HTTP status (4401, 4403 …), which StreamClient treats as final.
 */
export function nodeStreamSocket(options: { perMessageDeflate?: boolean } = {}): StreamSocketFactory {
  return (url, protocols, events) => {
    const socket = new WebSocket(url, protocols, { perMessageDeflate: options.perMessageDeflate ?? false, maxPayload: 4 * 1024 * 1024, handshakeTimeout: 15_000 });
    let refusedWith = 0;
    socket.on('unexpected-response', (_request, response) => {
      refusedWith = 4000 + (response.statusCode ?? 0);
      response.resume();
      socket.terminate();
    });
    // The frames StreamClient cuts one write into (16 KiB each) leave in one writev; ws keeps its TCP socket as `_socket`.
    let batch = (): void => {};
    socket.on('open', () => {
      batch = tickBatcher((socket as unknown as { _socket?: Socket })._socket, process.nextTick);
      events.open();
    });
    socket.on('message', (data: Buffer, isBinary) => events.message(isBinary ? data : data.toString('utf8')));
    // The close event that follows carries the outcome.
    socket.on('error', () => undefined);
    socket.on('close', (code, reason) => events.close(refusedWith || code, refusedWith ? 'refused' : reason.toString('utf8')));
    return {
      send: (data) => {
        if (socket.readyState !== WebSocket.OPEN) return;
        batch();
        socket.send(data);
      },
      close: (code, reason) => {
        if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
        else socket.close(code, reason);
      },
    };
  };
}

export const nodeSetTimer: SetTimer = (callback, ms) => {
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
};

/**
 * What a Node StreamClient needs to reach a session the relay created: its
 * stream URL and token, the socket and timers, and — when the relay names a
 * route URL — the question that finds the gateway its agent moved to.
 */
export function nodeSessionConnection(session: Pick<SessionCreated, 'streamUrl' | 'token' | 'routeUrl'>, socket: StreamSocketFactory = nodeStreamSocket()) {
  return {
    streamUrl: session.streamUrl,
    token: session.token,
    socket,
    setTimer: nodeSetTimer,
    ...(session.routeUrl === undefined ? {} : { locate: routeLocator(session.routeUrl, (url, init) => fetch(url, init)) }),
  };
}
