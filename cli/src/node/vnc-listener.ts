import { once } from 'node:events';
import { type AddressInfo, createServer, isIPv6, type Socket } from 'node:net';
import { RfbFanout } from '@lightsout/bmc-wire/rfb';
import { LightsoutError, type SessionCreated, StreamClient, StreamCloseCode, type StreamSocketFactory, describeStatus, isErrorCode } from '@lightsout/shared';
import { nodeSessionConnection } from './stream-socket.js';

export interface VncListenerOptions {
  /** Where to listen; loopback unless the caller checked that the user asked for more. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  viewOnly: boolean;
  /** Opens the console session, once the port is ours (a busy port costs no session). */
  openSession(): Promise<SessionCreated>;
  /** The listener's own messages (never into an RFB stream). */
  notice(text: string): void;
  socket?: StreamSocketFactory;
}

/** How the listener ended: the session ended or was lost, the user closed it, or the upstream RFB broke. */
export interface VncListenerOutcome {
  reason: 'closed' | 'ended' | 'lost' | 'refused';
  code: number;
  detail: string;
}

export interface VncListener {
  host: string;
  port: number;
  session: SessionCreated;
  /** Viewers connected now. */
  viewers(): number;
  /** Settles when the listener is closed, whatever closed it. */
  done: Promise<VncListenerOutcome>;
  /** Leaves the console session (the agent releases the BMC's VNC connection now) and closes the port. */
  close(): Promise<VncListenerOutcome>;
}

/**
 * Unsent bytes to a viewer above which the listener stops reading from it:
 * its requests wait in its own socket until it takes what it asked for.
 */
export const VIEWER_HIGH_WATER_BYTES = 1 << 20;

/** What a viewer may leave unsent beyond one full-screen update: the bells and clipboard text passed on without waiting (16 ServerCutTexts of 1 MiB). */
export const VIEWER_BACKLOG_SLACK_BYTES = 16 << 20;

/**
 * Most bytes a viewer may leave unsent before it is dropped: one full update
 * of the screen in 32-bit pixels (the fan-out keeps no more than one in a
 * socket) and the slack.
 */
export function viewerBacklogCap(width: number, height: number): number {
  return width * height * 4 + 16 + VIEWER_BACKLOG_SLACK_BYTES;
}

/**
 * A local RFB server (security None) in front of one console session of a
 * server's graphical console: `lightsout vnc SERVER --listen`, and the
 * desktop app's "Open in VNC client". The session is the stream-plane one
 * the web console uses (authenticated, recorded, resumable across network
 * drops: StreamClient), so the BMC's VNC password stays with the agent.
 * Every viewer that connects shares that one session through RfbFanout.
 *
 *   binding ─port ours→ opening session ─created→ serving ─session ended / lost / close()→ closed
 *      └─ port busy: throws                └─ refused (403, 404 …): throws
 */
export async function openVncListener(options: VncListenerOptions): Promise<VncListener> {
  const sockets = new Map<number, Socket>();
  const server = createServer({ noDelay: true });
  server.on('error', () => undefined);
  const listening = once(server, 'listening');
  server.listen(options.port, options.host);
  try {
    await Promise.race([listening, once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LightsoutError('CONFIG_INVALID', `cannot listen on ${formatAddress(options.host, options.port)}: ${code ?? (error as Error).message}`, {
      hint: code === 'EADDRINUSE' ? 'pick another port, or 0 for any free one' : 'check the address',
    });
  }
  const address = server.address() as AddressInfo;

  let session: SessionCreated;
  try {
    session = await options.openSession();
  } catch (error) {
    server.close();
    throw error;
  }

  let resolveDone!: (outcome: VncListenerOutcome) => void;
  const done = new Promise<VncListenerOutcome>((resolve) => (resolveDone = resolve));
  let finished = false;
  let streamed = false;
  const refusedTold = new Set<number>();

  const fanout = new RfbFanout(
    {
      toUpstream: (bytes) => {
        client.write(bytes);
      },
      toViewer: (id, bytes) => {
        const socket = sockets.get(id);
        if (socket !== undefined) toViewer(id, socket, bytes);
      },
      viewerBacklog: (id) => sockets.get(id)?.writableLength ?? 0,
      closeViewer: (id, error) => {
        options.notice(`[lightsout: VNC viewer ${id} closed: ${error.message}]\n`);
        sockets.get(id)?.destroy();
      },
      inputRefused: (id) => {
        if (refusedTold.has(id)) return;
        refusedTold.add(id);
        options.notice(`[lightsout: view-only: input from VNC viewer ${id} is dropped]\n`);
      },
    },
    { viewOnly: options.viewOnly },
  );

  /**
   * A viewer that does not read must not make this process hold what it
   * asks for: the fan-out keeps one update per viewer in its socket until
   * the socket is empty again; past the high-water mark the listener stops
   * reading the viewer's requests; past the cap it drops the viewer.
   */
  const toViewer = (id: number, socket: Socket, bytes: Uint8Array) => {
    if (socket.destroyed) return;
    const screen = fanout.screen;
    const cap = screen === undefined ? VIEWER_BACKLOG_SLACK_BYTES : viewerBacklogCap(screen.width, screen.height);
    if (socket.writableLength + bytes.length > cap) {
      options.notice(`[lightsout: VNC viewer ${id} dropped: it is not reading (${socket.writableLength} bytes unsent, cap ${cap})]\n`);
      socket.destroy();
      return;
    }
    socket.write(bytes, () => {
      if (socket.destroyed) return;
      if (socket.isPaused() && socket.writableLength <= VIEWER_HIGH_WATER_BYTES) socket.resume();
      if (socket.writableLength === 0) fanout.viewerDrained(id);
    });
    if (socket.writableLength > VIEWER_HIGH_WATER_BYTES) socket.pause();
  };

  const finish = (outcome: VncListenerOutcome) => {
    if (finished) return;
    finished = true;
    server.close();
    for (const socket of sockets.values()) socket.destroy();
    resolveDone(outcome);
  };

  const client: StreamClient = new StreamClient({
    ...nodeSessionConnection(session, options.socket),
    // Not refuseInputWhileDown: an RFB stream that loses a byte is out of step for good; input queues across a resume instead.
    onData: (bytes) => {
      try {
        fanout.fromUpstream(bytes);
      } catch (error) {
        options.notice(`[lightsout: the console's RFB stream broke: ${(error as Error).message}]\n`);
        client.close();
        finish({ reason: 'lost', code: 1002, detail: (error as Error).message });
      }
    },
    onStatus: (status) => {
      const line = describeStatus(status);
      if (line !== undefined) options.notice(`[lightsout: ${line}]\n`);
    },
    onState: (state, detail) => {
      if (state === 'streaming') {
        if (streamed) options.notice('[lightsout: resumed]\n');
        streamed = true;
      }
      // Before the first byte, an error from the relay or the agent (agent offline, BMC unreachable) is the answer.
      if (state === 'reconnecting' && !streamed && detail !== undefined && isErrorCode(detail)) {
        client.close();
        finish({ reason: 'refused', code: StreamCloseCode.RESUME, detail });
        return;
      }
      if (state === 'reconnecting' && streamed) options.notice(`[lightsout: connection to the console lost (${detail ?? 'network'}), resuming…]\n`);
    },
    onClose: (code, reason) => finish({ reason: code === 1000 || code === StreamCloseCode.ENDED ? 'ended' : 'lost', code, detail: reason }),
  });

  server.on('connection', (socket: Socket) => {
    if (finished) return socket.destroy();
    const { id, greeting } = fanout.addViewer();
    sockets.set(id, socket);
    toViewer(id, socket, greeting);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(id);
      fanout.removeViewer(id);
      options.notice(`[lightsout: VNC viewer ${id} left (${sockets.size} connected)]\n`);
    });
    socket.on('data', (chunk: Buffer) => fanout.fromViewer(id, chunk));
    options.notice(`[lightsout: VNC viewer ${id} connected from ${socket.remoteAddress ?? '?'} (${sockets.size} connected)]\n`);
  });

  return {
    host: address.address,
    port: address.port,
    session,
    viewers: () => sockets.size,
    done,
    close: async () => {
      if (!finished) {
        await client.leave();
        finish({ reason: 'closed', code: 1000, detail: 'closed by user' });
      }
      return done;
    },
  };
}

export function formatAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
