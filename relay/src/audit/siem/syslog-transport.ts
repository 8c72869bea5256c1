import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type Socket, connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { AuditRecord } from '@lightsout/shared';
import { settledWithin } from '../../settled-within.js';
import { octetCountedFrame, type SyslogIdentity, syslogMessage } from './rfc5424.js';
import type { SinkTransport } from './transport.js';

export interface SyslogTarget {
  /** `tcp://host:port` (RFC 6587) or `tls://host:port` (RFC 5425; 6514 is its port). */
  url: string;
  /** PEM file of the CAs that sign the receiver's certificate; default the system's. */
  caFile?: string | undefined;
  /** Client certificate and key (PEM files), for receivers that require mutual TLS (RFC 5425 §5.3). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** The name the receiver's certificate must carry, when it is not the URL's host. */
  serverName?: string | undefined;
  /** A batch the receiver has not taken within this long fails, and the connection with it (default 30 s). */
  writeTimeoutMs?: number | undefined;
}

const CONNECT_TIMEOUT_MS = 10_000;
/**
 * A receiver that keeps the connection but stops reading fills the socket's
 * buffers, and a write then never completes; keepalive cannot tell (the peer
 * still acknowledges). Past this, the connection is given up and the batch
 * sent again on a new one.
 */
const WRITE_TIMEOUT_MS = 30_000;
/** Written but not yet confirmed by a connection that stayed up this long: sent again if it drops (transport.ts). */
const CONFIRM_AFTER_MS = 2000;

/**
 * One TCP or TLS connection to a syslog receiver, opened when there is
 * something to send and again after it drops. TLS verifies the receiver's
 * certificate (RFC 5425 §5.2) against caFile or the system's CAs; there is
 * no option to skip that.
 */
export class SyslogTransport implements SinkTransport {
  readonly confirmAfterMs = CONFIRM_AFTER_MS;
  epoch = 0;
  private socket: Socket | undefined;
  private readonly url: URL;

  constructor(
    private readonly target: SyslogTarget,
    private readonly identity: SyslogIdentity,
  ) {
    this.url = new URL(target.url);
    if (this.url.protocol !== 'tcp:' && this.url.protocol !== 'tls:') throw new Error(`syslog url must be tcp:// or tls://, not ${this.url.protocol}`);
    if (this.url.port === '') throw new Error('syslog url needs a port (6514 for TLS)');
  }

  async send(records: readonly AuditRecord[]): Promise<void> {
    const socket = this.socket ?? (await this.open());
    const frames = Buffer.concat(records.map((record) => octetCountedFrame(syslogMessage(record, this.identity))));
    const timeoutMs = this.target.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          const error = new Error(`syslog receiver ${this.url.host} did not take the batch within ${timeoutMs} ms`);
          reject(error);
          socket.destroy(error);
        }, timeoutMs);
        socket.write(frames, (error) => (error ? reject(error) : resolve()));
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined || socket.destroyed) return;
    const closed = once(socket, 'close');
    socket.end();
    await settledWithin(closed, 2000);
    socket.destroy();
  }

  private async open(): Promise<Socket> {
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.url.port);
    const tls = this.url.protocol === 'tls:';
    const socket = tls
      ? connectTls({
          host,
          port,
          servername: this.target.serverName ?? host,
          minVersion: 'TLSv1.2',
          ...(this.target.caFile === undefined ? {} : { ca: readFileSync(this.target.caFile) }),
          ...(this.target.certFile === undefined ? {} : { cert: readFileSync(this.target.certFile) }),
          ...(this.target.keyFile === undefined ? {} : { key: readFileSync(this.target.keyFile) }),
        })
      : connectTcp({ host, port });
    socket.setKeepAlive(true, 30_000);
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new Error(`syslog receiver ${this.url.host} did not answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    try {
      await once(socket, tls ? 'secureConnect' : 'connect');
    } finally {
      clearTimeout(timer);
    }
    // A receiver does not talk back (RFC 6587 §3.4); whatever it sends is read and dropped so that it never blocks us.
    socket.resume();
    const lost = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.epoch += 1;
    };
    socket.on('error', lost);
    socket.on('close', lost);
    socket.on('end', () => socket.destroy());
    this.socket = socket;
    return socket;
  }
}
