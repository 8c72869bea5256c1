import { LightsoutError } from '@lightsout/shared';
import { PRIVILEGE, setSessionPrivilegeRequest, wireReasonOf, type CommandRequest, type IpmiCrypto } from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';
import { SessionCore, type SessionLogger, type SessionTiming } from './core.js';
import { HandshakeWaiter } from './handshake-wait.js';

/**
 * The lifecycle both LAN session kinds (RMCP+ and v1.5) share around their
 * own handshake state machines: handshake replies go to one waiter until the
 * session is up, Set Session Privilege ends the handshake, Close Session
 * (§22.19) is sent once, and failing cancels the waiting handshake step.
 * Request pairing and retransmission stay in SessionCore.
 */
export abstract class HandshakingSession extends SessionCore {
  /** Datagrams that are not the awaited handshake reply are counted in `refused`, like those of an active session. */
  protected readonly waiter = new HandshakeWaiter((error) => {
    if (error === undefined) this.refused.unexpected++;
    else if (wireReasonOf(error) === 'BAD_INTEGRITY') this.refused.integrity++;
    else if (wireReasonOf(error) === 'WRONG_SESSION') this.refused.wrongSession++;
    else this.refused.malformed++;
  });
  private closing: Promise<void> | undefined;

  protected constructor(transport: DatagramTransport, timing: SessionTiming, logger: SessionLogger | undefined) {
    super(transport, timing, logger);
    transport.onDatagram((datagram) => {
      // Until the session is up every datagram is a candidate handshake reply.
      if (this.state === 'active' || this.state === 'set-privilege' || this.state === 'closing') this.receiveInSession(datagram);
      else this.waiter.offer(datagram);
    });
  }

  /** A datagram that arrived once the session was established (set-privilege, active or closing). Must not throw. */
  protected abstract receiveInSession(datagram: Uint8Array): void;

  /** The Close Session request for this session (the BMC's session id differs per kind). */
  protected abstract closeRequest(): CommandRequest;

  /** set-privilege → active. Sessions start at USER (§22.18); only a higher level needs the extra round trip. */
  protected async raisePrivilege(privilege: number): Promise<void> {
    this.state = 'set-privilege';
    if (privilege > PRIVILEGE.user) await this.send(setSessionPrivilegeRequest(privilege), this.timing.requestRetries);
    this.state = 'active';
  }

  /** Close Session when active, then release the socket. Concurrent calls share one close. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    if (this.state === 'active') {
      this.state = 'closing';
      try {
        await this.send(this.closeRequest(), 2);
      } catch {
        // Best effort: the BMC times the session out anyway.
      }
    }
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'closed';
    this.waiter.cancel(new LightsoutError('BMC_PROTOCOL_ERROR', 'session closed'));
    this.dispose(undefined);
  }

  protected override onRequestTimeout(): void {
    // During set-privilege the handshake loop owns the retry (it restarts the whole handshake).
    if (this.state !== 'set-privilege') super.onRequestTimeout();
  }

  override fail(error: LightsoutError): void {
    this.waiter.cancel(error);
    super.fail(error);
  }
}

/** A random non-zero 32-bit number (session ids, initial sequence numbers: 0 means "none" on the wire). */
export function randomNonZero32(crypto: IpmiCrypto): number {
  const bytes = crypto.randomBytes(4);
  return ((bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0) || 1;
}
