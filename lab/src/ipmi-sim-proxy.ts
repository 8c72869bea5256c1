import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface UdpProxyOptions {
  /** Where datagrams from the client go. */
  targetPort: number;
  targetHost?: string;
  /** Fraction (0..1) of datagrams dropped, each direction. */
  loss?: number;
  /** Fraction (0..1) of datagrams held back and sent after the next one (reordering). */
  reorder?: number;
  /** Longest a reordered datagram waits for one to overtake it; default 15 ms. */
  holdMs?: number;
  /** Seed of the deterministic loss/reorder generator, so a failing run can be replayed. */
  seed?: number;
  /** Keep every datagram that passes, in order, for golden-vector capture. */
  record?: boolean;
}

export interface RecordedDatagram {
  direction: 'to-bmc' | 'to-client';
  bytes: Uint8Array;
}

export interface UdpProxy {
  port: number;
  recorded: RecordedDatagram[];
  stats: { forwarded: number; dropped: number; reordered: number };
  close(): Promise<void>;
}

/**
 * A loopback UDP proxy between one client and one BMC: it records traffic
 * (golden vectors) and can drop and reorder datagrams (loss tests). The
 * client is whoever sent the last datagram to the proxy's port.
 */
export async function startUdpProxy(options: UdpProxyOptions): Promise<UdpProxy> {
  const host = options.targetHost ?? '127.0.0.1';
  const clientFacing = createSocket('udp4');
  const bmcFacing = createSocket('udp4');
  let client: RemoteInfo | undefined;
  let state = (options.seed ?? 0x2545f491) >>> 0 || 1;
  const random = () => {
    // xorshift32: deterministic and good enough for fault injection.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
  const recorded: RecordedDatagram[] = [];
  const stats = { forwarded: 0, dropped: 0, reordered: 0 };
  const held = new Map<Socket, { bytes: Buffer; port: number; address: string; direction: RecordedDatagram['direction']; timer: ReturnType<typeof setTimeout> }>();

  const forward = (via: Socket, bytes: Buffer, port: number, address: string, direction: RecordedDatagram['direction']) => {
    if (random() < (options.loss ?? 0)) {
      stats.dropped++;
      return;
    }
    const send = (datagram: { bytes: Buffer; port: number; address: string; direction: RecordedDatagram['direction'] }) => {
      stats.forwarded++;
      if (options.record) recorded.push({ direction: datagram.direction, bytes: new Uint8Array(datagram.bytes) });
      via.send(datagram.bytes, datagram.port, datagram.address);
    };
    const waiting = held.get(via);
    if (waiting === undefined && random() < (options.reorder ?? 0)) {
      stats.reordered++;
      // Held until the next datagram in the same direction overtakes it, or briefly: a stop-and-wait
      // peer (SOL) may send nothing more until this one arrives.
      const timer = setTimeout(() => {
        if (held.get(via)?.timer !== timer) return;
        held.delete(via);
        send({ bytes, port, address, direction });
      }, options.holdMs ?? 15);
      held.set(via, { bytes, port, address, direction, timer });
      return;
    }
    send({ bytes, port, address, direction });
    if (waiting !== undefined) {
      clearTimeout(waiting.timer);
      held.delete(via);
      send(waiting);
    }
  };

  clientFacing.on('message', (bytes, remote) => {
    client = remote;
    forward(bmcFacing, bytes, options.targetPort, host, 'to-bmc');
  });
  bmcFacing.on('message', (bytes) => {
    if (client !== undefined) forward(clientFacing, bytes, client.port, client.address, 'to-client');
  });
  clientFacing.on('error', () => undefined);
  bmcFacing.on('error', () => undefined);
  await Promise.all([clientFacing, bmcFacing].map((socket) => new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))));
  return {
    port: clientFacing.address().port,
    recorded,
    stats,
    close: () => {
      for (const entry of held.values()) clearTimeout(entry.timer);
      held.clear();
      return Promise.all([clientFacing, bmcFacing].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve())))).then(() => undefined);
    },
  };
}
