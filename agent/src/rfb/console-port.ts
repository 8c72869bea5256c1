import { RfbClientFilter } from './client-filter.js';
import { openRfbProxy, type RfbProxy, type RfbProxyOptions } from './proxy.js';

/** Callbacks of a byte port, the shape agent/src/streams uses for every console transport. */
export interface RfbPortEvents {
  data(bytes: Uint8Array): void;
  drain(): void;
  /** The VNC session is over for good; called once. */
  close(reason: string): void;
}

/** A VNC console as a plain byte port (structurally a streams ConsolePort). */
export interface RfbPort {
  /**
   * Bytes from the user's VNC client; false when buffering: wait for
   * `drain`. `viewer`: from a member who may only watch — its key, pointer
   * and clipboard messages are dropped (RfbClientFilter). Throws a
   * LightsoutError for input the filter cannot follow.
   */
  write(bytes: Uint8Array, viewer?: boolean): boolean;
  /** A viewer's input is written too: its client needs its own RFB conversation for a picture. */
  readonly filtersViewerInput: true;
  /** VNC has no serial break; present so the port fits the console interface. */
  sendBreak(): void;
  /** Stop / restart delivering BMC bytes; pausing backs up to the BMC's TCP window. */
  pause(): void;
  resume(): void;
  /** Idempotent; `events.close` follows once. */
  close(): void;
  readonly proxy: RfbProxy;
}

/**
 * Opens the RFB proxy and exposes its client side as callbacks, so the
 * stream plane can treat VNC like any other console: its first `data` is
 * "RFB 003.008\n" toward the user's client, and what the client writes back
 * completes the None handshake before bytes are spliced to the BMC.
 * Rejects like openRfbProxy (BMC_AUTH_FAILED, BMC_UNSUPPORTED, …).
 */
export async function openRfbPort(options: RfbProxyOptions, events: RfbPortEvents): Promise<RfbPort> {
  const proxy = await openRfbProxy(options);
  const client = proxy.client;
  let closed = false;
  const filter = new RfbClientFilter();
  client.on('data', (chunk: Buffer) => events.data(chunk));
  client.on('drain', () => events.drain());
  // The error is reported through `close(reason)`; `closed` carries it too.
  client.on('error', () => undefined);
  void proxy.closed.then((error) => {
    closed = true;
    events.close(error ? error.message : 'the BMC closed the VNC connection');
  });
  return {
    write: (bytes, viewer = false) => {
      if (closed) return false;
      const pieces = filter.filter(bytes, viewer);
      if (pieces.length === 0) return !client.writableNeedDrain;
      return client.write(pieces.length === 1 ? pieces[0] : Buffer.concat(pieces));
    },
    filtersViewerInput: true,
    sendBreak: () => undefined,
    pause: () => void client.pause(),
    resume: () => void client.resume(),
    close: () => proxy.close(),
    proxy,
  };
}
