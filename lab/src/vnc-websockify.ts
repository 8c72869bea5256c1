import { connect } from 'node:net';
import { freeTcpPort } from './ports.js';
import { type PeerProcess, spawnPeer } from './vnc-process.js';

const START_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 3;

/** websockify (WebSocket → TCP), the standard bridge BMC web consoles use. */
export interface WebsockifyPeer {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/` — RFB in binary messages, subprotocol "binary" when asked. */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** True once something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * websockify prints its settings before it binds, so readiness is polled:
 * connect until accepted, with a growing delay, bounded by START_TIMEOUT_MS,
 * failing at once if the process exits.
 */
async function waitUntilListening(peer: PeerProcess, port: number): Promise<void> {
  let exited = false;
  void peer.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let delayMs = 10; Date.now() < deadline; delayMs = Math.min(delayMs * 2, 200)) {
    if (exited) throw new Error(`websockify exited before listening: ${peer.output().trim()}`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  throw new Error(`websockify not listening on ${port} after ${START_TIMEOUT_MS} ms: ${peer.output().trim()}`);
}

export async function startWebsockify(target: { host: string; port: number }): Promise<WebsockifyPeer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freeTcpPort();
    const peer = spawnPeer('websockify', 'websockify', [`127.0.0.1:${port}`, `${target.host}:${target.port}`]);
    try {
      await waitUntilListening(peer, port);
      return { port, url: `ws://127.0.0.1:${port}/`, pid: peer.pid, stop: () => peer.stop() };
    } catch (error) {
      lastError = error;
      await peer.stop();
    }
  }
  throw lastError;
}
