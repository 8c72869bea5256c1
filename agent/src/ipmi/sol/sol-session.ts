import { LightsoutError } from '@lightsout/shared';
import {
  ACTIVATE_PAYLOAD_COMPLETION, PAYLOAD_TYPE, SOL_OPERATION, SOL_STATUS, activatePayloadRequest, deactivatePayloadRequest, decodePayloadActivation,
  decodePayloadInstanceInfo, decodeSessionInfo, decodeSolPacket, encodeSolPacket, getDeviceIdRequest, getPayloadInstanceInfoRequest, getSessionInfoRequest, nextSolSequence, type SolPacket,
} from '@lightsout/bmc-wire/ipmi';
import type { RmcpPlusSession } from '../session/rmcp-plus-session.js';
import { completionCodeOfError, type SessionLogger } from '../session/core.js';

export type SolEndReason = 'closed' | 'deactivated-by-bmc' | 'stolen' | 'session-lost' | 'retransmits-exhausted';

export interface SolSessionEvents {
  data(bytes: Uint8Array): void;
  /** The SOL payload ended; `closed` is our own close. */
  end(reason: SolEndReason, detail: string): void;
  /** BMC status bits worth showing: break detected, transmit overrun (BMC dropped bytes). */
  status?(status: 'break-detected' | 'overrun'): void;
  /** The input backlog fell under SOL_INPUT_HIGH_WATER_BYTES again after write() said it was over: write more. */
  inputDrained?(): void;
}

/**
 * Input queued for the host past this much makes write() say "wait" (false):
 * a UART at 115,200 baud takes 5.7 s to take 64 KiB, so a paste larger than
 * that waits at its sender (the stream's credit window) rather than in this
 * process, and a client that does not wait is refused there.
 */
export const SOL_INPUT_HIGH_WATER_BYTES = 64 * 1024;

export interface SolTiming {
  /** Retransmit timeout: base × (retransmits/2 + 1), as FreeIPMI does. */
  retransmitBaseMs: number;
  maxRetransmits: number;
  /** Keepalive and theft check (Get Payload Instance Info) interval. */
  keepaliveMs: number;
  /** Delay before retrying after "character transfer unavailable". */
  holdRetryMs: number;
  /**
   * How many NACKs in a row may take none of the same bytes before SOL ends: a BMC that never
   * makes progress must not be fed the same packet for ever. 600 holds of 100 ms is a minute.
   */
  maxHolds: number;
}

export const DEFAULT_SOL_TIMING: SolTiming = { retransmitBaseMs: 500, maxRetransmits: 16, keepaliveMs: 15_000, holdRetryMs: 100, maxHolds: 600 };

/** Bytes (or a break) waiting to go out; `holds` counts the NACKs that took none of them so far. */
interface PendingInput {
  data: Uint8Array;
  control: number;
  holds: number;
}

interface Outstanding {
  sequence: number;
  data: Uint8Array;
  control: number;
  retransmits: number;
  holds: number;
}

/**
 * One activated SOL payload (IPMI v2.0 §15, §24) on an RMCP+ session:
 * at most one unacknowledged data packet per direction, partial ACKs resent
 * under the next sequence number, retransmits with a fresh session sequence
 * (the session does that for every send), a BMC retransmit that carries
 * appended bytes delivers only the new bytes, breaks wait until earlier
 * bytes are ACKed, and a keepalive that also notices another session
 * stealing the payload.
 */
export class SolSession {
  private readonly pendingInput: PendingInput[] = [];
  private outstanding: Outstanding | undefined;
  /** write() said the backlog was over the high water: inputDrained is due once it is under again. */
  private inputFull = false;
  private outboundSequence = 0;
  /**
   * The last BMC packet delivered: its sequence number (0: none yet; a data
   * packet's is 1..15, §15.9) and how many of its bytes went out. Updated in
   * place: an object per packet, kept until the next one a second later,
   * outlived the young generation in every open console.
   */
  private readonly lastInbound = { sequence: 0, length: 0 };
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The retransmit timer, one per session and re-armed for each packet sent
   * (`refresh()`), never cleared by an acknowledgement: when it fires with
   * nothing outstanding it does nothing and rests. A timer made and cleared
   * per keystroke also made and dropped Node's list for its duration each
   * time (the packet is acknowledged long before anything else falls due),
   * and those lists outlived the young generation in every open console.
   */
  private retransmitTimer: ReturnType<typeof setTimeout> | undefined;
  /** The delay `retransmitTimer` was made with: `refresh()` keeps it. */
  private retransmitTimerMs = 0;
  private ended = false;
  private maxData = 255;
  /** Cleared when the BMC refuses Get Payload Instance Info: the keepalive falls back to Get Device ID. */
  private instanceInfo = true;
  /** True when activation had to deactivate another session's SOL first. */
  tookOver = false;
  /** Bytes given to the BMC and acknowledged, and bytes delivered from it. */
  readonly counters = { sent: 0, received: 0, retransmits: 0, duplicates: 0 };

  private constructor(
    readonly session: RmcpPlusSession,
    private readonly events: SolSessionEvents,
    private readonly timing: SolTiming,
    private readonly logger: SessionLogger | undefined,
  ) {}

  /**
   * Activates SOL instance 1. "Already active" (cc 0x80) rejects with BMC_BUSY
   * naming the owner session, unless `takeover` is set: then the payload is
   * deactivated and activated again for us. `auxiliary` is the SOL behaviour
   * (request byte 3 bits 5:0); the protection bits above it follow the session.
   * SOL on another port than the session's is refused unless `ignorePort`.
   */
  static async activate(session: RmcpPlusSession, events: SolSessionEvents, options: { takeover?: boolean; auxiliary?: number; ignorePort?: boolean; timing?: Partial<SolTiming>; logger?: SessionLogger } = {}): Promise<SolSession> {
    const sol = new SolSession(session, events, { ...DEFAULT_SOL_TIMING, ...options.timing }, options.logger);
    const auxiliary = solProtectionBits(session) | ((options.auxiliary ?? 0) & 0x3f);
    for (let attempt = 0; attempt < 3; attempt++) {
      const { completionCode, data } = await session.requestWithCode(activatePayloadRequest(PAYLOAD_TYPE.sol, 1, auxiliary));
      if (completionCode === 0) {
        const activation = decodePayloadActivation(data);
        if (!options.ignorePort && !sameSolPath(activation.port, session.port)) {
          // What we activated is given back: the BMC would otherwise hold it until its session timeout.
          await sol.release();
          throw new LightsoutError('BMC_UNSUPPORTED', `the BMC wants SOL on UDP port ${activation.port}, not on this session's port ${session.port}; SOL over another port is not supported`, {
            details: { reason: 'SOL_PORT_DIFFERS', solPort: activation.port, sessionPort: session.port },
            hint: 'when the agent reaches the BMC through a port forward or proxy (the BMC names its own port), enable the IPMI quirk ignoreSolPort for this server; otherwise check the BMC\'s SOL port setting',
          });
        }
        // Inbound size counts the 4-byte SOL header (§24.1); never trust a size outside 5..259.
        sol.maxData = Math.max(1, Math.min(255, activation.inboundSize - 4));
        sol.start();
        return sol;
      }
      if (completionCode === ACTIVATE_PAYLOAD_COMPLETION.cannotEncrypt && auxiliary & 0x80) {
        // Asking again without bit 7 would put the console (and what is typed at it) in clear on a session
        // that negotiated encryption; refuse instead.
        throw new LightsoutError('BMC_UNSUPPORTED', 'the BMC will not encrypt SOL on this encrypted session (Activate Payload 0x83); SOL in clear is refused', {
          details: { reason: 'SOL_ENCRYPTION_REFUSED', completionCode },
          hint: 'enable SOL encryption on the BMC (SOL configuration parameter "force encryption" / payload encryption)',
        });
      }
      if (completionCode === ACTIVATE_PAYLOAD_COMPLETION.alreadyActive) {
        // undefined: the BMC has no Get Payload Instance Info, so the owner cannot be named.
        const owner = await SolSession.owner(session).catch((error: unknown) => {
          if (completionCodeOfError(error) === undefined) throw error;
          return undefined;
        });
        if (owner !== undefined && owner === session.bmcSessionId) {
          // Our own activation: its answer was lost and the retransmit found SOL active. The sizes are
          // unknown, so input goes in small packets (partial ACKs would cover a smaller BMC buffer anyway).
          sol.maxData = 28;
          sol.start();
          return sol;
        }
        const predecessor = owner !== undefined && owner !== 0 && !options.takeover && (await SolSession.heldByOurAccount(session, owner));
        if (!options.takeover && !predecessor) {
          const who = owner === undefined ? 'another session (this BMC cannot say which)' : `another session (BMC session 0x${owner.toString(16)})`;
          throw new LightsoutError('BMC_BUSY', `SOL is already active on ${who}`, { details: owner === undefined ? {} : { ownerSessionId: owner }, hint: 'another session (another tool, e.g. ipmitool sol activate) holds SOL: wait for it to end, or open the console with takeover (`lightsout console SERVER --takeover`; API "takeover": true), which ends that session\'s SOL' });
        }
        // Deactivate Payload works across sessions for an administrator (§24.2); ipmitool's `sol deactivate` does the same.
        await session.requestWithCode(deactivatePayloadRequest(PAYLOAD_TYPE.sol, 1));
        sol.tookOver = true;
        continue;
      }
      throw new LightsoutError(completionCode === ACTIVATE_PAYLOAD_COMPLETION.disabled ? 'BMC_UNSUPPORTED' : 'BMC_PROTOCOL_ERROR', `Activate Payload (SOL) failed with completion code 0x${completionCode.toString(16)}`, { details: { completionCode } });
    }
    throw new LightsoutError('BMC_BUSY', 'could not take over the SOL payload');
  }

  /** The BMC session ID that owns SOL instance 1 (0 = inactive), §24.5. */
  static async owner(session: RmcpPlusSession): Promise<number> {
    return decodePayloadInstanceInfo(await session.request(getPayloadInstanceInfoRequest(PAYLOAD_TYPE.sol, 1))).ownerSessionId;
  }

  /**
   * Whether the session holding SOL logged in as the same BMC user from the same address as `session`
   * (Get Session Info, §22.20): an earlier session of this agent, left behind by a restart or a lost
   * session, which the BMC keeps until its own timeout. Taking that back is not taking anyone's console.
   * False whenever the BMC cannot tell (no Get Session Info, owner unknown).
   */
  static async heldByOurAccount(session: RmcpPlusSession, owner: number): Promise<boolean> {
    try {
      const ours = decodeSessionInfo(await session.request(getSessionInfoRequest(0))).session;
      const theirs = decodeSessionInfo(await session.request(getSessionInfoRequest({ sessionId: owner }))).session;
      return ours !== undefined && theirs !== undefined && ours.userId === theirs.userId && ours.address !== undefined && ours.address === theirs.address;
    } catch (error) {
      if (completionCodeOfError(error) === undefined) throw error;
      return false;
    }
  }

  /**
   * Queues bytes for the host's UART; they go out one packet at a time, in
   * order. False when the backlog is over SOL_INPUT_HIGH_WATER_BYTES: the
   * bytes are queued all the same, and `inputDrained` says when to go on.
   */
  write(bytes: Uint8Array): boolean {
    if (this.ended) return true;
    for (let offset = 0; offset < bytes.length; offset += this.maxData) this.pendingInput.push({ data: bytes.slice(offset, offset + this.maxData), control: 0, holds: 0 });
    this.pump();
    if (this.backlog >= SOL_INPUT_HIGH_WATER_BYTES) this.inputFull = true;
    return !this.inputFull;
  }

  /** write() said "wait" and the BMC has taken enough since. */
  private noteDrained(): void {
    if (!this.inputFull || this.backlog >= SOL_INPUT_HIGH_WATER_BYTES) return;
    this.inputFull = false;
    this.events.inputDrained?.();
  }

  /** A serial break, sent only after every earlier byte is acknowledged (it queues behind them). */
  sendBreak(): void {
    if (this.ended) return;
    this.pendingInput.push({ data: new Uint8Array(), control: SOL_OPERATION.generateBreak, holds: 0 });
    this.pump();
  }

  /** Bytes accepted by write() and not yet acknowledged by the BMC. */
  get backlog(): number {
    return this.pendingInput.reduce((sum, item) => sum + item.data.length, 0) + (this.outstanding?.data.length ?? 0);
  }

  /** Deactivates the payload (so the next activation finds it free), then ends. The session stays open. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.stopTimers();
    await this.release();
    this.finish('closed', 'closed by the agent');
  }

  /**
   * Deactivate Payload if the session can still carry it: whatever ended SOL on our side (retransmits
   * exhausted, a failed keepalive), what we activated is given back, or the BMC keeps it active until
   * its session timeout and every attach meanwhile is refused. Best effort: a dead session cannot.
   */
  async release(): Promise<void> {
    if (this.session.state !== 'active') return;
    try {
      await this.session.requestWithCode(deactivatePayloadRequest(PAYLOAD_TYPE.sol, 1));
    } catch {
      // The session died meanwhile; the next activation takes the payload back (heldByOurAccount).
    }
  }

  private start(): void {
    this.session.onSolPayload((payload) => this.receive(payload));
    this.session.onClose((error) => this.finish('session-lost', error?.message ?? 'IPMI session closed'));
    this.keepaliveTimer = setInterval(() => void this.keepalive(), this.timing.keepaliveMs);
    this.keepaliveTimer.unref();
  }

  /**
   * Keeps the session alive and notices theft: Get Payload Instance Info while the BMC has it. A BMC that
   * answers it with a completion code (0xC1 on BMCs without the optional command) has answered, so the
   * session is fine: from then on Get Device ID keeps it alive, and theft shows as the BMC's
   * "deactivating" status bit or as unacknowledged packets. Only silence or a dead session ends SOL.
   */
  private async keepalive(): Promise<void> {
    try {
      if (this.instanceInfo) {
        try {
          const owner = await SolSession.owner(this.session);
          if (!this.ended && owner !== this.session.bmcSessionId) this.finish('stolen', owner === 0 ? 'SOL payload was deactivated' : `SOL taken over by BMC session 0x${owner.toString(16)}`);
          return;
        } catch (error) {
          const completionCode = completionCodeOfError(error);
          if (completionCode === undefined) throw error;
          this.instanceInfo = false;
          this.logger?.warn?.({ completionCode, reason: error instanceof Error ? error.message : String(error) }, 'BMC refuses Get Payload Instance Info; SOL keepalive uses Get Device ID');
        }
      }
      await this.session.request(getDeviceIdRequest());
    } catch (error) {
      if (!this.ended) this.finish('session-lost', error instanceof Error ? error.message : String(error));
    }
  }

  private receive(payload: Uint8Array): void {
    if (this.ended) return;
    let packet: SolPacket;
    try {
      packet = decodeSolPacket(payload);
    } catch {
      return;
    }
    if (packet.ackSequence !== 0 && this.outstanding?.sequence === packet.ackSequence) this.acknowledged(packet);
    if (packet.sequence !== 0) {
      this.deliver(packet);
      this.send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: packet.data.length, control: 0, data: new Uint8Array() });
    }
    if (packet.control & SOL_STATUS.breakDetected) this.events.status?.('break-detected');
    if (packet.control & SOL_STATUS.transmitOverrun) this.events.status?.('overrun');
    if (packet.control & SOL_STATUS.deactivating) this.finish('deactivated-by-bmc', 'the BMC is deactivating SOL');
  }

  private deliver(packet: SolPacket): void {
    const last = this.lastInbound;
    if (last.sequence === packet.sequence) {
      // A retransmit; it may carry bytes appended since the first send (§15.9): deliver only those.
      this.counters.duplicates++;
      if (packet.data.length > last.length) {
        const fresh = packet.data.subarray(last.length);
        last.length = packet.data.length;
        this.counters.received += fresh.length;
        this.events.data(fresh);
      }
      return;
    }
    last.sequence = packet.sequence;
    last.length = packet.data.length;
    if (packet.data.length === 0) return;
    this.counters.received += packet.data.length;
    this.events.data(packet.data);
  }

  /**
   * An ACK of our outstanding packet (§15.9, §15.10). Accepted count 0 without the NACK bit is a full
   * acknowledgement: Intel BMCs acknowledge a packet they took whole that way (ipmitool treats it so
   * with `-o intelplus`), and reading it as "took nothing" resent the same bytes at once, for ever.
   * Only a NACK takes nothing; then the bytes go again after a hold, at most `maxHolds` times in a row.
   */
  private acknowledged(packet: SolPacket): void {
    const outstanding = this.outstanding!;
    this.outstanding = undefined;
    const nacked = (packet.control & SOL_STATUS.nack) !== 0;
    const accepted = !nacked && packet.acceptedCount === 0 ? outstanding.data.length : Math.min(packet.acceptedCount, outstanding.data.length);
    this.counters.sent += accepted;
    // Partial ACK or NACK: what was not accepted goes first again, under the next sequence number.
    if (accepted < outstanding.data.length || (nacked && accepted === 0 && outstanding.control !== 0)) {
      const holds = accepted === 0 ? outstanding.holds + 1 : 0;
      if (holds > this.timing.maxHolds) {
        this.finish('retransmits-exhausted', `the BMC refused the same SOL data ${outstanding.holds + 1} times in a row`);
        return;
      }
      this.pendingInput.unshift({ data: outstanding.data.slice(accepted), control: accepted === 0 ? outstanding.control : 0, holds });
    }
    if (accepted > 0) this.noteDrained();
    if (nacked) {
      // NACK, usually with "character transfer unavailable": hold, then try again.
      clearTimeout(this.holdTimer);
      this.holdTimer = setTimeout(() => this.pump(), this.timing.holdRetryMs);
      return;
    }
    this.pump();
  }

  private pump(): void {
    if (this.ended || this.outstanding !== undefined || this.pendingInput.length === 0) return;
    const next = this.pendingInput.shift()!;
    // An empty non-break leftover (NACK of nothing) is dropped.
    if (next.data.length === 0 && next.control === 0) return this.pump();
    this.outboundSequence = nextSolSequence(this.outboundSequence);
    this.outstanding = { sequence: this.outboundSequence, data: next.data, control: next.control, retransmits: 0, holds: next.holds };
    this.transmit();
  }

  private transmit(): void {
    const outstanding = this.outstanding;
    if (outstanding === undefined || this.ended) return;
    this.send({ sequence: outstanding.sequence, ackSequence: 0, acceptedCount: 0, control: outstanding.control, data: outstanding.data });
    this.armRetransmit(this.timing.retransmitBaseMs * (Math.floor(outstanding.retransmits / 2) + 1));
  }

  /** Fires `ms` after the last packet sent, unless another is sent first; the same timer again while the delay is the same. */
  private armRetransmit(ms: number): void {
    if (this.retransmitTimer !== undefined && this.retransmitTimerMs === ms) {
      this.retransmitTimer.refresh();
      return;
    }
    clearTimeout(this.retransmitTimer);
    this.retransmitTimerMs = ms;
    this.retransmitTimer = setTimeout(this.retransmitDue, ms);
  }

  private readonly retransmitDue = (): void => {
    const outstanding = this.outstanding;
    // Acknowledged since it was sent (or held after a NACK): nothing is due.
    if (outstanding === undefined || this.ended) return;
    if (outstanding.retransmits >= this.timing.maxRetransmits) {
      this.finish('retransmits-exhausted', `no SOL acknowledgement after ${outstanding.retransmits} retransmits`);
      return;
    }
    outstanding.retransmits++;
    this.counters.retransmits++;
    this.transmit();
  };

  private send(packet: SolPacket): void {
    try {
      this.session.sendPayload(PAYLOAD_TYPE.sol, encodeSolPacket(packet));
    } catch (error) {
      this.finish('session-lost', error instanceof Error ? error.message : String(error));
    }
  }

  private stopTimers(): void {
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.holdTimer);
    clearTimeout(this.retransmitTimer);
  }

  private finish(reason: SolEndReason, detail: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimers();
    this.session.onSolPayload(undefined);
    this.events.end(reason, detail);
  }
}

/**
 * Activate Payload request byte 3 bits 7:6 (§24.1): encryption when the session negotiated confidentiality,
 * authentication when it negotiated integrity — what FreeIPMI asks. Less would have the BMC send SOL the
 * session drops (unauthenticated) or in clear on an encrypted session; more names protection the session
 * cannot give.
 */
export function solProtectionBits(session: RmcpPlusSession): number {
  const suite = session.suite;
  if (suite === undefined) return 0;
  return (suite.confidentiality.aes ? 0x80 : 0) | (suite.integrity.hash !== null ? 0x40 : 0);
}

const swap16 = (port: number) => ((port & 0xff) << 8) | (port >> 8);
const RMCP_PORT = 623;

/**
 * Whether SOL on the port Activate Payload names (§24.1 response bytes 9–10) reaches the BMC on the
 * session's own path: that port, or it byte-swapped (Supermicro X8DTH; ipmitool and FreeIPMI take it so),
 * or the standard RMCP port 623 while the session goes to another one — a port forward, whose far side is
 * the port the BMC names. Any other port is a SOL port of its own, which this path does not reach.
 */
export function sameSolPath(solPort: number, sessionPort: number): boolean {
  return solPort === sessionPort || swap16(solPort) === sessionPort || solPort === RMCP_PORT || swap16(solPort) === RMCP_PORT;
}
