import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { BmcFaults } from '../bmc/config.js';

export interface Remote {
  address: string;
  port: number;
}

/**
 * The BMC's UDP socket, with the fault knobs applied at the edge: inbound and
 * outbound loss, added latency, and reordering (a held-back datagram is
 * overtaken by the next one). Timers exist only while a delayed datagram is
 * in flight.
 */
export class UdpTransport {
  private readonly socket: Socket;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly faults: BmcFaults,
    onDatagram: (datagram: Uint8Array, remote: Remote) => void,
    /** Injectable so tests can choose which datagrams are lost or held back. */
    private readonly random: () => number = Math.random,
  ) {
    this.socket = createSocket('udp4');
    this.socket.on('message', (message: Buffer, info: RemoteInfo) => {
      if (this.lose()) return;
      onDatagram(new Uint8Array(message.buffer, message.byteOffset, message.length), { address: info.address, port: info.port });
    });
    this.socket.on('error', () => {
      /* a bad datagram or ICMP unreachable must not take the BMC down */
    });
  }

  async bind(port: number, address: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, address, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    return this.socket.address().port;
  }

  send(datagram: Uint8Array, remote: Remote): void {
    if (this.closed || this.lose()) return;
    let delay = this.faults.udpLatencyMs;
    if (this.faults.udpReorderPercent > 0 && this.random() * 100 < this.faults.udpReorderPercent) delay += 20 + this.faults.udpLatencyMs;
    if (delay <= 0) {
      this.socket.send(datagram, remote.port, remote.address);
      return;
    }
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      if (!this.closed) this.socket.send(datagram, remote.port, remote.address);
    }, delay);
    timer.unref();
    this.delayed.add(timer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private lose(): boolean {
    return this.faults.udpLossPercent > 0 && this.random() * 100 < this.faults.udpLossPercent;
  }
}
