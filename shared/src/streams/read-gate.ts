/** What a gate pauses: a WebSocket (`ws`), a net.Socket, a port. */
export interface Pausable {
  pause(): void;
  resume(): void;
}

/** Why a source is not being read: its peer is backed up, or it had its share of this event-loop turn. */
export type GateReason = 'backpressure' | 'turn';

export interface ReadGateOptions {
  /** Bytes a source may deliver per event-loop turn before it yields to the others. */
  quantumBytes: number;
  /** Runs `callback` once the current turn's I/O callbacks are done (Node: setImmediate). Injected: shared/ has no timers. */
  afterTurn(callback: () => void): void;
}

/**
 * Decides when one byte source (a data connection) is read, so that a few
 * bulk streams cannot make every other stream on the process wait.
 *
 * A process reads a ready socket in a loop (libuv reads up to 32 × 64 KiB
 * per readiness callback), and every byte it reads is handled before the
 * next socket gets a turn. With 50 bulk streams that is tens of MiB between
 * two looks at a quiet socket: a keystroke waits behind them. The gate
 * counts what its source delivered in this turn and, past `quantumBytes`,
 * pauses it until the turn is over — round robin across sources at a
 * bounded cost per turn. Backpressure (the other side is backed up) is a
 * second, independent reason to pause; the source reads again only when
 * no reason holds.
 */
export class ReadGate {
  private readonly held = new Set<GateReason>();
  private turnBytes = 0;
  private turnScheduled = false;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly source: Pausable,
    private readonly options: ReadGateOptions,
    initial: { paused?: boolean } = {},
  ) {
    // A source handed over paused stays paused until its owner says why not (set(..., false)).
    if (initial.paused) {
      this.paused = true;
      this.held.add('backpressure');
    }
  }

  get isHeld(): boolean {
    return this.held.size > 0;
  }

  /** Record bytes the source just delivered; yields the source when its turn's share is used up. */
  consumed(bytes: number): void {
    if (this.stopped) return;
    if (!this.turnScheduled) {
      this.turnScheduled = true;
      this.options.afterTurn(this.nextTurn);
    }
    this.turnBytes += bytes;
    if (this.turnBytes >= this.options.quantumBytes) this.set('turn', true);
  }

  set(reason: GateReason, on: boolean): void {
    if (this.stopped) return;
    if (on) this.held.add(reason);
    else this.held.delete(reason);
    const pause = this.held.size > 0;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.source.pause();
    else this.source.resume();
  }

  /**
   * The source is closing: the gate lets go of it for good, resuming it if
   * the gate had it paused (a paused WebSocket would never read its peer's
   * close frame, RFC 6455 §7.1.2).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.held.clear();
    if (this.paused) {
      this.paused = false;
      this.source.resume();
    }
  }

  private readonly nextTurn = (): void => {
    this.turnScheduled = false;
    this.turnBytes = 0;
    this.set('turn', false);
  };
}
