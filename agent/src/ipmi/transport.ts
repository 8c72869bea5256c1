import { createSocket, type Socket } from 'node:dgram';
import { LightsoutError } from '@lightsout/shared';

/** One connected UDP socket per BMC session; the only file in ipmi/ that touches node:dgram. */
export interface DatagramTransport {
  send(datagram: Uint8Array): void;
  /** Replaces the receiver; datagrams arriving without one are dropped. */
  onDatagram(receiver: ((datagram: Uint8Array) => void) | undefined): void;
  close(): Promise<void>;
}

export async function openUdpTransport(host: string, port: number): Promise<DatagramTransport> {
  const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let receiver: ((datagram: Uint8Array) => void) | undefined;
  let closed = false;
  socket.on('message', (message) => receiver?.(new Uint8Array(message.buffer, message.byteOffset, message.length)));
  // ICMP port-unreachable surfaces as an error on a connected socket: it means "no reply", which the session's timeouts handle.
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((error: unknown) => {
    socket.close();
    throw new LightsoutError('BMC_UNREACHABLE', `cannot open UDP to ${host}:${port}`, { cause: error });
  });
  return {
    send(datagram) {
      if (closed) return;
      try {
        socket.send(datagram);
      } catch (error) {
        throw new LightsoutError('BMC_UNREACHABLE', `cannot send to ${host}:${port}`, { cause: error });
      }
    },
    onDatagram(next) {
      receiver = next;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      receiver = undefined;
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
