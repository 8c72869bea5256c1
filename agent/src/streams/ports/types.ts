import type { StreamKind } from '@lightsout/shared';
import type { ServerEntry } from '../../config/types.js';

/**
 * The BMC side of a console: a duplex byte port. One implementation per
 * transport (serial over WebSocket, serial over TCP, SOL through the IPMI
 * hub, VNC through the RFB proxy), chosen by kind and endpoint URL.
 */
export interface ConsolePort {
  /**
   * Output from before this port was opened that a new viewer should see
   * first (the SOL hub's ring buffer: boot banner, login prompt). Delivered
   * through the console group's scrollback, never through `events.data`.
   */
  readonly replay?: Uint8Array;
  /**
   * A port that keeps its own scrollback (SOL: the hub's ring, which holds
   * `replay` and every byte this port delivered since): the group asks it
   * for a late viewer's first bytes instead of keeping a second copy of the
   * same output. Without it the group keeps its own.
   */
  scrollback?(): Uint8Array;
  /** Opening this port ended another session's hold on the BMC side (SOL taken over, asked for with `takeover`). */
  readonly tookOver?: boolean;
  /**
   * Bytes toward the BMC; false when the port is buffering: wait for
   * `drain`. `viewer`: from a member who may only watch (only written to a
   * port that `filtersViewerInput`). May throw a LightsoutError for input
   * the port cannot follow; the member that sent it is ended.
   */
  write(bytes: Uint8Array, viewer?: boolean): boolean;
  /**
   * A viewer's input is written too, and the port drops what would act on
   * the console: VNC, where a viewer's client needs its own RFB messages
   * (handshake, pixel format, update requests) for any picture. Without it
   * the group drops all of a viewer's input.
   */
  readonly filtersViewerInput?: boolean;
  /** Serial break (SOL: the SOL break bit; serial: not every transport has one). */
  sendBreak(): void;
  /** Stop / restart reading from the BMC (backpressure from the slowest attached client). */
  pause(): void;
  resume(): void;
  /** Idempotent; `events.close` follows once. */
  close(): void;
}

export interface ConsolePortEvents {
  data(bytes: Uint8Array): void;
  drain(): void;
  /** The BMC side is gone for good (error or closed by the BMC). */
  close(reason: string): void;
}

export interface ConsolePortOpenOptions {
  /** SOL: if another BMC session holds SOL ("already active"), deactivate it and take SOL (IPMI v2.0 §24.3). */
  takeover?: boolean;
}

/** Opens the BMC side; rejects with a LightsoutError (BMC_UNREACHABLE, BMC_AUTH_FAILED, BMC_UNSUPPORTED, BMC_BUSY…). */
export type ConsolePortOpener = (server: ServerEntry, kind: StreamKind, events: ConsolePortEvents, options?: ConsolePortOpenOptions) => Promise<ConsolePort>;
