/**
 * The first bytes of new connections are handled at most `perTurn` per
 * event-loop turn, taken round-robin across client addresses; connections
 * already established (a keep-alive connection's next request, an agent's
 * control socket, a console) are never queued here.
 *
 * Why: a burst of 1,100 new connections arrives in the same poll phase, and
 * handling each one's first request (parse, then refuse or route) costs
 * about half a millisecond of the one event loop even when it is refused at
 * once: one turn of the loop then held another tenant's call for the whole
 * burst, on every hop of that call (request, agent answer, reply). Queued
 * here, a turn carries at most `perTurn` of them, and established traffic is
 * served between turns. Round-robin across addresses keeps one client's
 * backlog from delaying another client's first connection by more than one
 * round.
 */
/** About 10 ms of the loop per turn at the measured cost of a refused first request (docs/security.md). */
export const NEW_CONNECTIONS_PER_TURN = 16;

export class NewConnectionQueue {
  /** Address → first-request handlers waiting; an address is removed when its queue empties. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private handledThisTurn = 0;
  private turnScheduled = false;

  constructor(readonly perTurn: number) {
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new RangeError('perTurn must be a positive integer');
  }

  /**
   * Runs `handle` now when this turn has room and nobody waits, else after
   * the ones queued before it; the caller pauses the socket meanwhile.
   * Returns whether it ran now.
   */
  run(address: string, handle: () => void): boolean {
    // No turn pending: this is a new turn of the loop, with the whole budget.
    if (!this.turnScheduled) this.handledThisTurn = 0;
    this.scheduleTurn();
    if (this.waiting.size === 0 && this.handledThisTurn < this.perTurn) {
      this.handledThisTurn += 1;
      handle();
      return true;
    }
    const queue = this.waiting.get(address);
    if (queue === undefined) this.waiting.set(address, [handle]);
    else queue.push(handle);
    return false;
  }

  /** Handlers waiting for a later turn. */
  get queued(): number {
    let count = 0;
    for (const queue of this.waiting.values()) count += queue.length;
    return count;
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    // setImmediate runs after the poll phase: established connections' I/O is served before each batch.
    setImmediate(() => this.nextTurn());
  }

  private nextTurn(): void {
    this.turnScheduled = false;
    this.handledThisTurn = 0;
    while (this.handledThisTurn < this.perTurn && this.waiting.size > 0) {
      // One from each address in turn; Map order is insertion order, so an address goes to the back after its turn.
      for (const [address, queue] of this.waiting) {
        const handle = queue.shift()!;
        this.waiting.delete(address);
        if (queue.length > 0) this.waiting.set(address, queue);
        this.handledThisTurn += 1;
        handle();
        if (this.handledThisTurn >= this.perTurn) break;
      }
    }
    if (this.waiting.size > 0) this.scheduleTurn();
  }
}
