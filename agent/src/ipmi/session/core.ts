import { LightsoutError } from '@lightsout/shared';
import { COMPLETION, completionCodeOf, decodeIpmiMessage, encodeIpmiMessage, isResponse, requestMessage, type CommandRequest, type IpmiMessage } from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';

/** Session states, shared by RMCP+ and v1.5 (the RAKP states are skipped by v1.5). One fail path: `failed`. */
export type SessionState = 'idle' | 'auth-caps' | 'open-session' | 'rakp1-2' | 'rakp3-4' | 'challenge' | 'activate' | 'set-privilege' | 'active' | 'closing' | 'closed' | 'failed';

export interface SessionTiming {
  /** First in-session retransmit timeout; doubles on every retry. */
  requestTimeoutMs: number;
  /** Retransmits of one in-session request before the session is declared dead. */
  requestRetries: number;
  /** Timeout of each handshake step; a timeout restarts the whole handshake. */
  handshakeTimeoutMs: number;
  /** Whole-handshake attempts before giving up. */
  handshakeAttempts: number;
}

export const DEFAULT_TIMING: SessionTiming = { requestTimeoutMs: 250, requestRetries: 4, handshakeTimeoutMs: 700, handshakeAttempts: 3 };

export interface SessionLogger {
  debug(object: Record<string, unknown>, message: string): void;
  /** A BMC's ordinary refusal (unsupported command, no SDR): worth a line with the reason, not a stack. */
  warn?(object: Record<string, unknown>, message: string): void;
}

interface PendingRequest {
  request: IpmiMessage;
  resolve(data: Uint8Array): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  attempt: number;
  /** Sends the request framed with a fresh session sequence number. */
  transmit(): void;
}

/** A completion code other than 0, as a typed error (details.completionCode). */
export function completionError(request: CommandRequest, completionCode: number): LightsoutError {
  const code = completionCode === COMPLETION.insufficientPrivilege ? 'FORBIDDEN' : completionCode === COMPLETION.invalidCommand ? 'BMC_UNSUPPORTED' : completionCode === COMPLETION.nodeBusy ? 'BMC_BUSY' : 'BMC_PROTOCOL_ERROR';
  return new LightsoutError(code, `BMC answered netFn 0x${request.netFn.toString(16)} cmd 0x${request.command.toString(16)} with completion code 0x${completionCode.toString(16)}`, {
    details: { completionCode, netFn: request.netFn, command: request.command },
  });
}

export function completionCodeOfError(error: unknown): number | undefined {
  return error instanceof LightsoutError && typeof error.details?.['completionCode'] === 'number' ? error.details['completionCode'] : undefined;
}

/** rqSeq is 6 bits: the high bits of the rqSeq/rqLUN byte of a LAN message (IPMI v2.0 §13.8). */
const RQ_SEQ_SLOTS = 64;

/**
 * What RMCP+ and v1.5 sessions share: request/response pairing by rqSeq,
 * retransmission with exponential backoff (each retransmit gets a new session
 * sequence number, as the spec requires), and the single fail path.
 */
export abstract class SessionCore {
  state: SessionState = 'idle';
  /**
   * Requests in flight by rqSeq (6 bits, IPMI v2.0 §13.8: 64 slots). A slot
   * array, not a Map: a Map emptied and filled again by each keepalive
   * reallocated its hash table every time, and a table kept between two
   * keepalives outlived the young generation in every open session.
   */
  protected readonly pending: (PendingRequest | undefined)[] = new Array<PendingRequest | undefined>(RQ_SEQ_SLOTS).fill(undefined);
  private requestSequence = 0;
  protected failure: LightsoutError | undefined;
  private readonly closeListeners = new Set<(error: LightsoutError | undefined) => void>();
  /**
   * Datagrams refused (malformed, bad integrity, replayed, wrong session; during the handshake also
   * `unexpected`: well-formed, but not the reply the step awaits): counted, never thrown.
   */
  readonly refused = { malformed: 0, integrity: 0, replayed: 0, wrongSession: 0, unexpected: 0 };

  protected constructor(
    protected readonly transport: DatagramTransport,
    protected readonly timing: SessionTiming,
    protected readonly logger: SessionLogger | undefined,
  ) {}

  /** Frames one IPMI message for the wire with the next outbound session sequence number. */
  protected abstract frameIpmi(message: Uint8Array): Uint8Array;

  /** Sends a command and resolves with the response data after the completion code. */
  request(command: CommandRequest): Promise<Uint8Array> {
    if (this.state !== 'active' && this.state !== 'set-privilege') return Promise.reject(this.failure ?? new LightsoutError('BMC_PROTOCOL_ERROR', `IPMI session is ${this.state}`));
    return this.send(command, this.timing.requestRetries);
  }

  /** Like `request` but resolves with the completion code instead of throwing on non-zero ones. */
  async requestWithCode(command: CommandRequest): Promise<{ completionCode: number; data: Uint8Array }> {
    try {
      return { completionCode: 0, data: await this.request(command) };
    } catch (error) {
      const completionCode = completionCodeOfError(error);
      if (completionCode === undefined) throw error;
      return { completionCode, data: new Uint8Array() };
    }
  }

  onClose(listener: (error: LightsoutError | undefined) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  protected send(command: CommandRequest, retries: number): Promise<Uint8Array> {
    const sequence = this.nextRequestSequence();
    const message = requestMessage(command.netFn, command.command, sequence, command.data);
    const bytes = encodeIpmiMessage(message);
    return new Promise((resolve, reject) => {
      const entry: PendingRequest = {
        request: message,
        resolve,
        reject,
        timer: undefined,
        attempt: 0,
        transmit: () => {
          this.transport.send(this.frameIpmi(bytes));
          entry.timer = setTimeout(() => {
            if (entry.attempt >= retries) {
              this.pending[sequence] = undefined;
              reject(new LightsoutError('BMC_TIMEOUT', `no answer to netFn 0x${command.netFn.toString(16)} cmd 0x${command.command.toString(16)} after ${retries + 1} tries`));
              this.onRequestTimeout();
              return;
            }
            entry.attempt++;
            entry.transmit();
          }, this.timing.requestTimeoutMs * 2 ** entry.attempt);
        },
      };
      this.pending[sequence] = entry;
      entry.transmit();
    });
  }

  /** A request ran out of retries: the session is presumed dead. Subclasses may restart it. */
  protected onRequestTimeout(): void {
    this.fail(new LightsoutError('BMC_TIMEOUT', 'BMC stopped answering'));
  }

  /** Matches a received IPMI message (v1.5 or payload type 0) to its pending request. */
  protected deliverIpmi(payload: Uint8Array): void {
    let message: IpmiMessage;
    try {
      message = decodeIpmiMessage(payload);
    } catch {
      this.refused.malformed++;
      return;
    }
    if (!isResponse(message)) return;
    const entry = this.pending[message.sequence];
    if (entry === undefined || entry.request.command !== message.command || (entry.request.netFn | 1) !== message.netFn) return;
    let completionCode: number;
    try {
      completionCode = completionCodeOf(message);
    } catch {
      this.refused.malformed++;
      return;
    }
    // 0xCF: the BMC saw a retransmit of a request it is still answering; the real answer follows.
    if (completionCode === COMPLETION.duplicateRequest) return;
    clearTimeout(entry.timer);
    this.pending[message.sequence] = undefined;
    if (completionCode !== 0) entry.reject(completionError({ netFn: entry.request.netFn, command: entry.request.command, data: entry.request.data }, completionCode));
    else entry.resolve(message.data.subarray(1));
  }

  private nextRequestSequence(): number {
    // rqSeq is 6 bits; skip numbers still in flight.
    for (let tries = 0; tries < RQ_SEQ_SLOTS; tries++) {
      this.requestSequence = (this.requestSequence + 1) & (RQ_SEQ_SLOTS - 1);
      if (this.pending[this.requestSequence] === undefined) return this.requestSequence;
    }
    throw new LightsoutError('BMC_BUSY', '64 IPMI requests already in flight on this session');
  }

  /** The one fail path: reject everything, release the socket, tell listeners. */
  fail(error: LightsoutError): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.logger?.debug({ error: error.message, state: this.state }, 'ipmi session failed');
    this.failure = error;
    this.state = 'failed';
    this.dispose(error);
  }

  protected dispose(error: LightsoutError | undefined): void {
    const inFlight = this.pending.filter((entry) => entry !== undefined);
    this.pending.fill(undefined);
    for (const entry of inFlight) {
      clearTimeout(entry.timer);
      entry.reject(error ?? new LightsoutError('BMC_PROTOCOL_ERROR', 'IPMI session closed'));
    }
    this.transport.onDatagram(undefined);
    void this.transport.close();
    for (const listener of this.closeListeners) listener(error);
    this.closeListeners.clear();
  }
}
