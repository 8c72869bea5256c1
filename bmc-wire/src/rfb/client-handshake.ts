import { LightsoutError } from '@lightsout/shared';
import { decodeSecurityChoice, encodeSecurityResult, encodeSecurityType33, encodeSecurityTypes } from './security-messages.js';
import { decodeProtocolVersion, encodeProtocolVersion, type RfbVersion } from './version.js';

const NONE = 1;

export interface ClientHandshakeStep {
  /** Bytes to send to the client, in order. */
  send: Uint8Array[];
  /** Set once the client may talk to the BMC directly; `leftover` (e.g. an early ClientInit) goes to the BMC. */
  done: { clientVersion: RfbVersion; leftover: Uint8Array } | undefined;
  /** Set when the client broke the protocol: send `send` (it explains why), then close. */
  failure?: LightsoutError;
}

type State = { name: 'awaitVersion' } | { name: 'awaitChoice'; version: RfbVersion } | { name: 'done' } | { name: 'failed' };

/**
 * The agent's server role toward the user's client (RFC 6143 §7.1), as a
 * pure state machine. It offers RFB 3.8 with security type None only — the
 * BMC's real security was already handled by BmcHandshake — and ends at the
 * point where the client sends ClientInit, from which on bytes are spliced.
 *
 *   agent → "RFB 003.008\n"            (opening)
 *   client → version  3.3: agent → u32 1 (None), done
 *                     3.7: agent → [1, None]; client → 1; done
 *                     3.8: agent → [1, None]; client → 1; agent → BMC's SecurityResult; done
 *
 * Old clients matter: vncsnapshot and other TightVNC-1.x-derived tools speak 3.3.
 */
export class ClientHandshake {
  private state: State = { name: 'awaitVersion' };
  private pending: Uint8Array = new Uint8Array(0);

  /** @param securityResult what a 3.8 client receives after choosing None (the BMC's own SecurityResult bytes). */
  constructor(private readonly securityResult: Uint8Array = encodeSecurityResult({ kind: 'ok' }, '3.8')) {}

  /** The first bytes the client must receive. */
  opening(): Uint8Array {
    return encodeProtocolVersion('3.8');
  }

  receive(chunk: Uint8Array): ClientHandshakeStep {
    if (this.state.name === 'done' || this.state.name === 'failed') throw new LightsoutError('INTERNAL', `client handshake received bytes in state ${this.state.name}`);
    this.pending = this.pending.length === 0 ? chunk : Uint8Array.from([...this.pending, ...chunk]);
    const send: Uint8Array[] = [];
    try {
      if (this.state.name === 'awaitVersion') {
        const version = decodeClientProtocolVersion(this.pending);
        if (version === undefined) return { send, done: undefined };
        this.pending = this.pending.subarray(12);
        if (version === '3.3') {
          send.push(encodeSecurityType33(NONE));
          return this.finish(send, version);
        }
        send.push(encodeSecurityTypes([NONE]));
        this.state = { name: 'awaitChoice', version };
      }
      if (this.state.name === 'awaitChoice') {
        const choice = decodeSecurityChoice(this.pending);
        if (choice.kind === 'needMore') return { send, done: undefined };
        this.pending = this.pending.subarray(choice.length);
        const version = this.state.version;
        if (choice.value !== NONE) {
          // Only reachable by a broken client; tell a 3.8 client why before closing.
          if (version === '3.8') send.push(encodeSecurityResult({ kind: 'failed', status: 1, reason: `security type ${choice.value} was not offered` }, '3.8'));
          this.state = { name: 'failed' };
          return { send, done: undefined, failure: new LightsoutError('MALFORMED_MESSAGE', `RFB client chose security type ${choice.value}, which was not offered`, { details: { choice: choice.value } }) };
        }
        // §7.1.3: a 3.7 client expects no SecurityResult after None.
        if (version === '3.8') send.push(this.securityResult);
        return this.finish(send, version);
      }
      return { send, done: undefined };
    } catch (error) {
      this.state = { name: 'failed' };
      throw error;
    }
  }

  private finish(send: Uint8Array[], clientVersion: RfbVersion): ClientHandshakeStep {
    this.state = { name: 'done' };
    const leftover = this.pending;
    this.pending = new Uint8Array(0);
    return { send, done: { clientVersion, leftover } };
  }
}

/**
 * The version a VNC client answered (§7.1.1), as any server reads it: the
 * same mapping as toward a BMC, refused as the client's PROTOCOL_VERSION.
 */
export function decodeClientProtocolVersion(bytes: Uint8Array): RfbVersion | undefined {
  try {
    const decoded = decodeProtocolVersion(bytes);
    if (decoded.kind === 'needMore') return undefined;
    // §7.1.1: a client must not answer above the server's 3.8.
    return decoded.value.effective;
  } catch (error) {
    // The shared decoder speaks about "the BMC"; here the peer is the user's client.
    throw new LightsoutError('PROTOCOL_VERSION', 'the VNC client did not send a valid RFB ProtocolVersion', { cause: error });
  }
}
