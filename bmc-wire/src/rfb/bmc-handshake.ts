import { LightsoutError } from '@lightsout/shared';
import { decodeSecurityResult, decodeSecurityType33, decodeSecurityTypes, type SecurityOffer } from './security-messages.js';
import { chooseSecurityType, securityTypeName } from './security/registry.js';
import { type SecurityCredentials, type SecurityExchange, type SecurityType } from './security/types.js';
import { decodeProtocolVersion, encodeProtocolVersion, type ProtocolVersion, type RfbVersion } from './version.js';
import { type Decoded, u32 } from './wire.js';

/** What the agent negotiated with the BMC; ServerInit and everything after is not parsed. */
export interface BmcHandshakeResult {
  serverVersion: ProtocolVersion;
  /** The version both sides now speak. */
  version: RfbVersion;
  securityType: { type: number; name: string };
  /** What the BMC offered, in its order (the 3.3 form offers exactly one). */
  offeredSecurityTypes: number[];
  /**
   * The SecurityResult bytes to hand to a 3.8 client: the BMC's own when it
   * sent one, else a synthesised OK (3.3/3.7 servers send none after None).
   */
  securityResult: Uint8Array;
}

export interface BmcHandshakeStep {
  /** Bytes to send to the BMC, in order. */
  send: Uint8Array[];
  /** Set once the handshake is over; the BMC waits for ClientInit next. */
  result: BmcHandshakeResult | undefined;
}

type State =
  | { name: 'awaitVersion' }
  | { name: 'awaitSecurityOffer'; serverVersion: ProtocolVersion; version: RfbVersion }
  | { name: 'exchange'; serverVersion: ProtocolVersion; version: RfbVersion; security: SecurityType; exchange: SecurityExchange }
  | { name: 'awaitSecurityResult'; serverVersion: ProtocolVersion; version: RfbVersion; security: SecurityType }
  | { name: 'done' }
  | { name: 'failed' };

/**
 * The agent's client role toward the BMC, RFC 6143 §7.1–§7.2, as a pure
 * state machine: feed it every byte the BMC sends, write out what it returns.
 *
 *   BMC → ProtocolVersion          → agent answers min(server, 3.8)
 *   BMC → security types / 3.3 type → agent picks from the registry
 *   … the type's own exchange (VNC auth: challenge → response) …
 *   BMC → SecurityResult (3.8 always; 3.3/3.7 not after None)
 *
 * Any malformed or refused step throws a LightsoutError and leaves the
 * machine in `failed`; the caller closes the connection (one fail path).
 * The BMC sends nothing after SecurityResult until ClientInit, so bytes
 * beyond the handshake are a protocol error, not something to forward.
 */
export class BmcHandshake {
  private state: State = { name: 'awaitVersion' };
  private pending: Uint8Array = new Uint8Array(0);
  private offered: number[] = [];

  constructor(private readonly credentials: SecurityCredentials) {}

  get stateName(): State['name'] {
    return this.state.name;
  }

  receive(chunk: Uint8Array): BmcHandshakeStep {
    if (this.state.name === 'done' || this.state.name === 'failed') {
      throw new LightsoutError('INTERNAL', `RFB handshake received bytes in state ${this.state.name}`);
    }
    this.pending = concat(this.pending, chunk);
    const send: Uint8Array[] = [];
    try {
      // Each pass consumes one message; bounded by the number of states.
      for (let pass = 0; pass < 8; pass++) {
        const progress = this.advance(send);
        if (progress.kind === 'result') {
          if (this.pending.length > 0) throw this.unexpectedBytes();
          return { send, result: progress.result };
        }
        if (progress.kind === 'needMore') return { send, result: undefined };
      }
      throw new LightsoutError('INTERNAL', 'RFB handshake did not settle');
    } catch (error) {
      this.state = { name: 'failed' };
      throw error;
    }
  }

  private advance(send: Uint8Array[]): { kind: 'needMore' } | { kind: 'progress' } | { kind: 'result'; result: BmcHandshakeResult } {
    const state = this.state;
    switch (state.name) {
      case 'awaitVersion': {
        const decoded = this.take(decodeProtocolVersion(this.pending));
        if (!decoded) return { kind: 'needMore' };
        // §7.1.1: the client answers with a version not above the server's.
        const version = decoded.effective;
        send.push(encodeProtocolVersion(version));
        this.state = { name: 'awaitSecurityOffer', serverVersion: decoded, version };
        return { kind: 'progress' };
      }
      case 'awaitSecurityOffer': {
        const offer = this.take(state.version === '3.3' ? decodeSecurityType33(this.pending) : decodeSecurityTypes(this.pending));
        if (!offer) return { kind: 'needMore' };
        if (offer.kind === 'types') this.offered = offer.types;
        const security = this.choose(offer, state.version);
        // start() first: it may refuse (no password) before we commit to the type.
        const exchange = security.start(this.credentials);
        // 3.7+: the client names its choice; 3.3: the server already decided.
        if (state.version !== '3.3') send.push(Uint8Array.of(security.type));
        if (exchange.opening) send.push(exchange.opening);
        this.state = { name: 'exchange', serverVersion: state.serverVersion, version: state.version, security, exchange };
        return { kind: 'progress' };
      }
      case 'exchange': {
        const step = this.take(state.exchange.receive(this.pending));
        if (!step) return { kind: 'needMore' };
        if (step.reply) send.push(step.reply);
        if (!step.done) return { kind: 'progress' };
        if (state.version !== '3.8' && !state.security.resultBefore38) {
          return { kind: 'result', result: this.finish(state.serverVersion, state.version, state.security, u32(0)) };
        }
        this.state = { name: 'awaitSecurityResult', serverVersion: state.serverVersion, version: state.version, security: state.security };
        return { kind: 'progress' };
      }
      case 'awaitSecurityResult': {
        const decoded = decodeSecurityResult(this.pending, state.version);
        if (decoded.kind === 'needMore') return { kind: 'needMore' };
        // Kept verbatim: a 3.8 client gets the BMC's own SecurityResult.
        const resultBytes = this.pending.slice(0, decoded.length);
        this.pending = this.pending.subarray(decoded.length);
        const result = decoded.value;
        if (result.kind === 'failed') {
          const reason = result.reason ?? (result.status === 2 ? 'too many authentication attempts' : 'authentication failed (the server gave no reason)');
          throw new LightsoutError('BMC_AUTH_FAILED', `RFB: the BMC rejected ${state.security.name} authentication: ${reason}`, {
            hint: state.security.type === 2 ? "Check the VNC password configured for this server (VNC uses only its first 8 characters)." : undefined,
            details: { securityType: state.security.type, status: result.status, reason: result.reason },
          });
        }
        return { kind: 'result', result: this.finish(state.serverVersion, state.version, state.security, resultBytes) };
      }
      case 'done':
      case 'failed':
        throw new LightsoutError('INTERNAL', `RFB handshake advanced in state ${state.name}`);
    }
  }

  private choose(offer: SecurityOffer, version: RfbVersion): SecurityType {
    if (offer.kind === 'failure') {
      // libvncserver sends this e.g. after too many failed logins.
      throw new LightsoutError('BMC_AUTH_FAILED', `RFB: the BMC refused the connection before authentication: ${offer.reason}`, { details: { reason: offer.reason, version } });
    }
    if (version === '3.3' && offer.types[0] !== 1 && offer.types[0] !== 2) {
      throw new LightsoutError('BMC_UNSUPPORTED', `RFB: the 3.3 server demands ${securityTypeName(offer.types[0]!)}, which the agent cannot perform`, { details: { type: offer.types[0] } });
    }
    return chooseSecurityType(offer.types);
  }

  private finish(serverVersion: ProtocolVersion, version: RfbVersion, security: SecurityType, securityResult: Uint8Array): BmcHandshakeResult {
    this.state = { name: 'done' };
    return { serverVersion, version, securityType: { type: security.type, name: security.name }, offeredSecurityTypes: this.offered, securityResult };
  }

  /** Returns the value and drops its bytes, or undefined when more bytes are needed. */
  private take<T>(decoded: Decoded<T>): T | undefined {
    if (decoded.kind === 'needMore') return undefined;
    this.pending = this.pending.subarray(decoded.length);
    return decoded.value;
  }

  private unexpectedBytes(): LightsoutError {
    return new LightsoutError('BMC_PROTOCOL_ERROR', `RFB: the BMC sent ${this.pending.length} unexpected bytes after SecurityResult`, { details: { length: this.pending.length } });
  }
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (first.length === 0) return second;
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first, 0);
  joined.set(second, first.length);
  return joined;
}
