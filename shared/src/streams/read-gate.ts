import { StreamLimits } from './session.js';

/** What a gate pauses: a WebSocket (`ws`), a net.Socket, a port. */
export interface Pausable {
  pause(): void;
  resume(): void;
}

/** Why a source is not being read: its peer is backed up, or it had its share of this event-loop turn. */
export type GateReason = 'backpressure' | 'turn';

export interface TurnSchedulerOptions {
  /** Bytes one source may deliver per event-loop turn before it yields to the others. */
  quantumBytes: number;
  /**
   * Bytes the whole process reads per turn, over all sources, before the
   * heavy ones wait for a later turn. Bounds how long one turn lasts, and so
   * how long a keystroke that arrives during it waits.
   */
  turnBytes: number;
  /** A source that delivered less than this in a turn is interactive: it is never held for the turn budget. */
  lightBytes: number;
  /** Runs `callback` once the current turn's I/O callbacks are done (Node: setImmediate). Injected: shared/ has no timers. */
  afterTurn(callback: () => void): void;
}

/**
 * Decides, for a whole process, which data sources are read in each
 * event-loop turn, so that bulk streams cannot make an interactive one wait.
 *
 * A process reads every ready socket in the poll phase (libuv reads up to
 * 32 × 64 KiB per readiness callback), and every byte read is relayed before
 * the loop looks at a socket again. With 50 bulk streams a turn is tens of
 * MiB: a keystroke that arrives waits for all of it, once in each process it
 * crosses. Two limits bound a turn:
 *
 * - per source, `quantumBytes`: past it the source yields until a later turn;
 * - per process, `turnBytes`: once the turn has read that much, every source
 *   that is heavy in this turn (`lightBytes` or more) yields too.
 *
 * Yielded sources queue, and each turn wakes only as many of them as fit in
 * `turnBytes` (deficit round robin, oldest first): bulk streams share the
 * bandwidth evenly and a turn stays about `turnBytes` long. Light sources —
 * keystrokes, control messages — are never queued, so they are read in the
 * very next poll phase.
 */
export class TurnScheduler {
  private turnRead = 0;
  private scheduled = false;
  /**
   * The current turn's number. A gate's per-turn count belongs to the turn
   * it was counted in, so a new turn resets every count without visiting
   * the gates: no set of this turn's readers to fill and empty. That set was
   * one of the agent's largest sources of objects that outlive the young
   * generation (its hash tables grown and cleared each turn, tenured while a
   * thousand consoles each printed a packet; docs/benchmarks.md, soak).
   */
  #turn = 0;
  /** Sources waiting for a turn, oldest first. */
  private readonly waiting = new Set<ReadGate>();

  constructor(readonly options: TurnSchedulerOptions) {}

  /** A gate for one source of this process. */
  gate(source: Pausable, initial: { paused?: boolean } = {}): ReadGate {
    return new ReadGate(source, this, initial);
  }

  /** Sources queued for a later turn (for metrics and tests). */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** @internal The turn a gate counts its bytes in. */
  get turn(): number {
    return this.#turn;
  }

  /** @internal ReadGate reports what its source delivered. */
  record(gate: ReadGate, bytes: number, gateTurnBytes: number): void {
    this.schedule();
    this.turnRead += bytes;
    const { quantumBytes, turnBytes, lightBytes } = this.options;
    if (gateTurnBytes >= quantumBytes || (this.turnRead >= turnBytes && gateTurnBytes >= lightBytes)) {
      this.waiting.add(gate);
      gate.set('turn', true);
    }
  }

  /** @internal A stopped gate leaves every queue. */
  forget(gate: ReadGate): void {
    this.waiting.delete(gate);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.options.afterTurn(this.nextTurn);
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false;
    this.turnRead = 0;
    this.#turn += 1;
    // Wake the oldest waiters, as many as one turn's budget holds; the rest wait their turn.
    let wake = Math.max(1, Math.floor(this.options.turnBytes / this.options.quantumBytes));
    for (const gate of this.waiting) {
      if (wake-- === 0) break;
      this.waiting.delete(gate);
      gate.set('turn', false);
    }
    // Queued sources get their turn even if nothing is read in this one.
    if (this.waiting.size > 0) this.schedule();
  };
}

/**
 * The read side of one byte source (a data connection, a console port):
 * pauses it while any reason holds — its peer is backed up (backpressure)
 * or it had its share of the event-loop turn (its TurnScheduler) — and
 * reads it again when none does.
 */
export class ReadGate {
  private readonly held = new Set<GateReason>();
  private turnBytes = 0;
  /** The scheduler's turn `turnBytes` were counted in. */
  private countedTurn = -1;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly source: Pausable,
    private readonly scheduler: TurnScheduler,
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

  /** Record bytes the source just delivered; the scheduler yields it when its share of the turn is used up. */
  consumed(bytes: number): void {
    if (this.stopped) return;
    if (this.countedTurn !== this.scheduler.turn) {
      this.countedTurn = this.scheduler.turn;
      this.turnBytes = 0;
    }
    this.turnBytes += bytes;
    this.scheduler.record(this, bytes, this.turnBytes);
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
    this.scheduler.forget(this);
    this.held.clear();
    if (this.paused) {
      this.paused = false;
      this.source.resume();
    }
  }
}

/** A process's scheduler with the stream plane's limits; one per process, shared by all its data connections. */
export function createStreamTurns(afterTurn: (callback: () => void) => void): TurnScheduler {
  return new TurnScheduler({ quantumBytes: StreamLimits.readQuantumBytes, turnBytes: StreamLimits.turnBytes, lightBytes: StreamLimits.lightBytes, afterTurn });
}
