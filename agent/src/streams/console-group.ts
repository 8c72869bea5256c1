import { type ErrorCode, LightsoutError, type ReadGate, type StatusMessage, StreamCloseCode } from '@lightsout/shared';
import type { ConsolePort } from './ports/types.js';
import { Scrollback } from './scrollback.js';
import { agentTurns } from './turns.js';

/** How much earlier output a late viewer of a SOL/serial console gets (as much as the IPMI SOL hub's ring buffer). */
export const consoleScrollbackBytes = 256 * 1024;

/** What the group needs from a member session. */
export interface GroupMember {
  /** Display name (shown to the other members). */
  readonly user: string;
  /** Who it is (the token's `sub`): the same person in another window or after a reload. */
  readonly subject: string;
  readonly requestedMode: 'control' | 'view';
  readonly attached: boolean;
  /** Whether this member can take more bytes now (its send window is open). */
  readonly canTake: boolean;
  /** Far beyond its window (a port that cannot pause, like SOL, kept sending): it must go. */
  readonly overflowed: boolean;
  deliver(bytes: Uint8Array): void;
  sendStatus(status: StatusMessage): void;
  /** The group ended this member (BMC gone, it overflowed while detached, or the port refused its input: `errorCode`). */
  end(code: number, reason: string, errorCode?: ErrorCode): void;
  /** Stop / restart acknowledging the member's input (the BMC side is buffering), which closes its send window. */
  holdInput(hold: boolean): void;
}

/**
 * One BMC console and the sessions watching it. SOL and serial have one
 * group per (server, kind): a second user joins the same console, read-only
 * or asking for control; the members see who is there through status
 * messages. VNC has one group per session (each client needs its own RFB
 * conversation).
 *
 * Flow control: the port is paused while any member that matters is out of
 * window, and reads at most one quantum per event-loop turn (ReadGate) so a
 * busy console takes turns with the others on this agent. A detached member that overflows while others are attached is
 * ended instead, so one vanished client cannot stall a shared console.
 *
 * Scrollback: the group keeps the last `scrollbackBytes` of output (seeded
 * with the port's own replay) and hands it to each member as its first
 * bytes when it joins, so a viewer who arrives late sees the screen as it
 * was — exactly once, since joining and output both run synchronously on
 * the event loop. A port that keeps its own (SOL: the hub's ring, fed
 * before this group) is asked instead, so a console's output is held once.
 * VNC groups keep none (an RFB byte stream cannot be replayed to a new
 * client).
 *
 * The port was opened for one session, which joins a few event-loop turns
 * later: until it does, the port is paused and what it already read is
 * held (`backlog`, bounded by one socket read) and handed to that first
 * member in full — the bytes a BMC sends together with its handshake
 * reply (a WebSocket 101 and the first frames in one TCP segment) are the
 * beginning of the stream, not scrollback to trim.
 */
export class ConsoleGroup {
  private readonly members = new Set<GroupMember>();
  private controller: GroupMember | undefined;
  private readonly gate: ReadGate;
  private ended = false;
  /** Undefined when the port keeps the scrollback itself (`port.scrollback`). */
  private readonly scrollback: Scrollback | undefined;
  /** Output before the first member joined: all of it goes to that member. Undefined once it has. */
  private backlog: Uint8Array[] | undefined = [];
  private readonly statusFanout: number;
  private readonly statusCoalesceMs: number;
  /** Status changes counted; what each member heard last, and the mode it was told. */
  private statusSeq = 0;
  private readonly heard = new WeakMap<GroupMember, number>();
  private readonly sentMode = new WeakMap<GroupMember, 'control' | 'view'>();
  /** Changes not yet told to every member (large groups). */
  private pendingStatus: { seq: number; event: StatusMessage['event'] | undefined; user: string | undefined }[] = [];
  private statusTimer: NodeJS.Timeout | undefined;
  private readonly statusSlice: number;
  /** A window's picture still being handed out, a slice per event-loop turn. */
  private statusFlush: NodeJS.Immediate | undefined;

  constructor(
    readonly key: string,
    private readonly port: ConsolePort,
    private readonly onEmpty: () => void,
    options: { scrollbackBytes?: number; statusFanout?: number; statusCoalesceMs?: number; statusSlice?: number } = {},
  ) {
    this.scrollback = port.scrollback ? undefined : new Scrollback(options.scrollbackBytes ?? 0);
    this.statusFanout = options.statusFanout ?? 16;
    this.statusCoalesceMs = options.statusCoalesceMs ?? 250;
    this.statusSlice = options.statusSlice ?? 64;
    if (port.replay) {
      this.scrollback?.push(port.replay);
      this.backlog!.push(port.replay);
    }
    // Nobody to hand output to yet: read no further than what is already in hand.
    port.pause();
    this.gate = agentTurns.gate(port, { paused: true });
  }

  get size(): number {
    return this.members.size;
  }

  join(member: GroupMember): void {
    if (this.ended) return member.end(StreamCloseCode.ENDED, 'the BMC closed the console');
    if (this.backlog) {
      for (const bytes of this.backlog) member.deliver(bytes);
      this.backlog = undefined;
    } else {
      const earlier = this.scrollback ? this.scrollback.snapshot() : this.port.scrollback?.();
      if (earlier !== undefined && earlier.length > 0) member.deliver(earlier);
    }
    this.members.add(member);
    // The same person coming back — a reload, a re-sign-in, a new window — gets control back from
    // their own older session at once, instead of watching themselves type for its grace period.
    if (member.requestedMode === 'control' && (this.controller === undefined || this.controller.subject === member.subject)) this.controller = member;
    this.broadcast('joined', member.user);
    this.reviewFlow();
  }

  leave(member: GroupMember): void {
    if (!this.members.delete(member)) return;
    if (this.members.size === 0) return this.close();
    // Control passes to the longest-present member who asked for it, so a console is never left without a typist by accident.
    if (this.controller === member) this.controller = [...this.members].find((candidate) => candidate.requestedMode === 'control');
    this.broadcast('left', member.user);
    this.reviewFlow();
  }

  modeOf(member: GroupMember): 'control' | 'view' {
    return this.controller === member ? 'control' : 'view';
  }

  /**
   * Input from a member: the controller's reaches the BMC; a viewer's only
   * through a port that filters it (VNC), else none of it. A port that
   * cannot follow the input (an RFB message it cannot delimit) throws: that
   * member is ended, told why.
   */
  input(member: GroupMember, bytes: Uint8Array): void {
    if (this.ended) return;
    const viewer = this.controller !== member;
    if (viewer && !this.port.filtersViewerInput) return;
    let buffering: boolean;
    try {
      buffering = !this.port.write(bytes, viewer);
    } catch (error) {
      const refusal = error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', `the console refused input: ${String(error)}`);
      return member.end(StreamCloseCode.ENDED, refusal.message, refusal.code);
    }
    if (buffering) member.holdInput(true);
  }

  onPortDrain(): void {
    for (const member of this.members) member.holdInput(false);
  }

  sendBreak(member: GroupMember): void {
    if (this.controller === member) this.port.sendBreak();
  }

  /** A member asks for control: granted at once; the previous holder is told by status. */
  takeOver(member: GroupMember): void {
    if (member.requestedMode !== 'control' || this.controller === member) return this.broadcast();
    this.controller = member;
    this.broadcast('took-over', member.user);
  }

  /** BMC output: to every member, in order. */
  output(bytes: Uint8Array): void {
    this.gate.consumed(bytes.length);
    this.scrollback?.push(bytes);
    if (this.backlog) return void this.backlog.push(bytes);
    for (const member of [...this.members]) {
      member.deliver(bytes);
      if (member.overflowed) member.end(StreamCloseCode.ENDED, 'fell too far behind the console output');
    }
    this.reviewFlow();
  }

  /** A member attached, detached, or its window changed. */
  reviewFlow(): void {
    if (this.ended) return;
    const anyAttached = [...this.members].some((member) => member.attached);
    let blocked = false;
    for (const member of [...this.members]) {
      if (member.canTake) continue;
      if (!member.attached && anyAttached) {
        member.end(StreamCloseCode.ENDED, 'fell too far behind while disconnected');
        continue;
      }
      blocked = true;
    }
    // Before the first member joins, output goes to the backlog: keep to what is in hand.
    this.gate.set('backpressure', blocked || this.backlog !== undefined);
  }

  /**
   * Tells the members who is on the console and what just happened. A
   * change reaches every member, so n viewers joining one by one cost n²
   * messages: past `statusFanout` members, viewers get the latest picture
   * once per `statusCoalesceMs` instead (with the event when it was the only
   * one they missed). The controller — who must see who joined — and any
   * member whose own mode just changed still hear at once, and so does
   * everyone when the BMC closes.
   */
  broadcast(event?: StatusMessage['event'], user?: string): void {
    this.statusSeq += 1;
    const coalesce = this.members.size > this.statusFanout && event !== 'bmc-closed';
    if (coalesce) {
      this.pendingStatus.push({ seq: this.statusSeq, event, user });
      this.statusTimer ??= setTimeout(this.flushStatus, this.statusCoalesceMs);
    }
    const statuses = this.statusMaker(event, user);
    for (const member of this.members) {
      if (coalesce && member !== this.controller && this.sentMode.get(member) === this.modeOf(member)) continue;
      this.sendStatus(member, statuses(this.modeOf(member)), this.statusSeq);
    }
  }

  /**
   * The window's picture to every member that missed a change, at most
   * `statusSlice` members per event-loop turn: a thousand viewers' statuses
   * in one turn held every other console on this agent (and each keystroke)
   * for tens of milliseconds. A member that left meanwhile is skipped; one that heard
   * a newer picture directly (its mode changed) keeps that.
   */
  private readonly flushStatus = (): void => {
    this.statusTimer = undefined;
    const pending = this.pendingStatus.splice(0);
    if (this.ended || pending.length === 0) return;
    const seq = this.statusSeq;
    const picture = this.picture();
    const waiting = [...this.members];
    const maker = new Map<string, (mode: 'control' | 'view') => StatusMessage>();
    const statusFor = (missed: typeof pending) => {
      const only = missed.length === 1 ? missed[0] : undefined;
      const key = only ? `${only.event ?? ''}\u0000${only.user ?? ''}` : '';
      let make = maker.get(key);
      if (!make) maker.set(key, (make = this.statusMaker(only?.event, only?.user, picture)));
      return make;
    };
    const sendSlice = (from: number): void => {
      this.statusFlush = undefined;
      if (this.ended) return;
      const to = Math.min(waiting.length, from + this.statusSlice);
      for (let index = from; index < to; index++) {
        const member = waiting[index]!;
        if (!this.members.has(member)) continue;
        const missed = pending.filter((change) => change.seq > (this.heard.get(member) ?? 0));
        if (missed.length > 0) this.sendStatus(member, statusFor(missed)(this.modeOf(member)), seq);
      }
      if (to < waiting.length) this.statusFlush = setImmediate(sendSlice, to);
    };
    sendSlice(0);
  };

  /**
   * One status object per mode for the current picture: members told the
   * same thing share the object, so it is encoded once (session.ts), not
   * once per member.
   */
  private statusMaker(event: StatusMessage['event'] | undefined, user: string | undefined, { members, controller } = this.picture()): (mode: 'control' | 'view') => StatusMessage {
    const made: Partial<Record<'control' | 'view', StatusMessage>> = {};
    return (mode) =>
      (made[mode] ??= {
        type: 'status',
        mode,
        controller,
        members,
        ...(event === undefined ? {} : { event }),
        ...(user === undefined ? {} : { user: user.slice(0, 255) }),
      });
  }

  /** Who is on the console now (the first 64 members: a status stays small however large the audience). */
  private picture(): Pick<StatusMessage, 'members' | 'controller'> {
    return {
      members: [...this.members].slice(0, 64).map((member) => ({ user: member.user, mode: this.modeOf(member), attached: member.attached })),
      controller: this.controller?.user ?? null,
    };
  }

  /** `seq`: the last change this status shows (a slice sent after a newer change still shows only the older ones). */
  private sendStatus(member: GroupMember, status: StatusMessage, seq: number): void {
    member.sendStatus(status);
    this.heard.set(member, Math.max(seq, this.heard.get(member) ?? 0));
    this.sentMode.set(member, status.mode);
  }

  /** The BMC side closed: every member's session ends. */
  portClosed(reason: string): void {
    if (this.ended) return;
    this.broadcast('bmc-closed');
    this.ended = true;
    clearTimeout(this.statusTimer);
    clearImmediate(this.statusFlush);
    this.gate.stop();
    for (const member of [...this.members]) member.end(StreamCloseCode.ENDED, reason);
    this.members.clear();
    this.onEmpty();
  }

  /** Closes a console no member ever joined or all have left (its opener left before attaching). */
  closeIfUnused(): void {
    if (this.members.size === 0) this.close();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.statusTimer);
    clearImmediate(this.statusFlush);
    this.gate.stop();
    this.port.close();
    this.onEmpty();
  }
}
