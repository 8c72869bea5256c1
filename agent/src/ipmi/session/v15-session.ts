import { LightsoutError } from '@lightsout/shared';
import {
  AUTH_TYPE, ReplayWindow, activateSessionRequest, authTypeNumber, classifyDatagram, closeSessionRequest, decodeActivateSession, decodeIpmiMessage,
  decodeSessionChallenge, decodeV15, encodeV15, getSessionChallengeRequest, v15AuthCode,
  verifyV15AuthCode, type ChannelAuthCapabilities, type CommandRequest, type IpmiCrypto, type V15AuthType,
} from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';
import { completionError, type SessionLogger, type SessionTiming } from './core.js';
import { HandshakingSession, randomNonZero32 } from './handshaking-session.js';
import { preSessionRequest } from './pre-session.js';
import { getAuthCapabilities } from './auth-caps.js';

export interface V15Options {
  username: string;
  password: string;
  privilege: number;
  crypto: IpmiCrypto;
  timing: SessionTiming;
  logger: SessionLogger | undefined;
}

/**
 * An IPMI v1.5 LAN session (IPMI v2.0 §22.16–§22.19), the fallback for BMCs
 * without RMCP+: idle → auth-caps → challenge → activate → set-privilege →
 * active → closing → closed, or failed. MD5 is preferred over straight
 * password; "none" is never chosen.
 */
export class V15Session extends HandshakingSession {
  authType: V15AuthType = 'md5';
  sessionId = 0;
  private outboundSequence = 0;
  private perMessageAuth = true;
  private readonly replayWindow = new ReplayWindow(8);

  constructor(transport: DatagramTransport, private readonly options: V15Options) {
    super(transport, options.timing, options.logger);
  }

  async open(capabilities?: ChannelAuthCapabilities): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.options.timing.handshakeAttempts; attempt++) {
      const timeout = this.options.timing.handshakeTimeoutMs * (attempt + 1);
      try {
        this.state = 'auth-caps';
        const caps = capabilities ?? (await getAuthCapabilities(this.transport, this.waiter, this.options.privilege, timeout, 1));
        // Straight password (§22.17.1, authentication type 4) puts the password itself in every AuthCode, in
        // clear on the wire: whatever answers at the BMC's address (a spoofed or reassigned one, or one that
        // only claims no RMCP+ to force this fallback) would be handed it. Only MD5 keeps it off the wire.
        if (caps.authTypes.md5) this.authType = 'md5';
        else {
          throw new LightsoutError('BMC_UNSUPPORTED', `BMC offers no IPMI v1.5 authentication that keeps the password off the wire (MD5)${caps.authTypes.straight ? '; straight password would send it in clear, and is refused' : ''}`, {
            hint: 'enable IPMI v2.0 (RMCP+) or MD5 authentication on the BMC, or use its Redfish endpoint',
          });
        }
        this.perMessageAuth = !caps.perMessageAuthDisabled;
        await this.activate(timeout);
        await this.raisePrivilege(this.options.privilege);
        return;
      } catch (error) {
        lastError = error;
        if (!(error instanceof LightsoutError) || error.code !== 'BMC_TIMEOUT') break;
      }
    }
    let failure = lastError instanceof LightsoutError ? lastError : new LightsoutError('BMC_PROTOCOL_ERROR', 'IPMI v1.5 session failed', { cause: lastError });
    // BMCs drop an Activate Session whose AuthCode does not verify instead of answering: silence there means a wrong password.
    if (failure.code === 'BMC_TIMEOUT' && this.state === 'activate') {
      failure = new LightsoutError('BMC_AUTH_FAILED', 'BMC did not answer Activate Session (wrong password?)', { cause: failure, hint: 'check the IPMI password; v1.5 BMCs silently drop badly signed requests' });
    }
    this.fail(failure);
    throw failure;
  }

  protected closeRequest(): CommandRequest {
    return closeSessionRequest(this.sessionId);
  }

  protected frameIpmi(message: Uint8Array): Uint8Array {
    this.outboundSequence = (this.outboundSequence + 1) >>> 0 || 1;
    const authType = this.perMessageAuth ? this.authType : 'none';
    return encodeV15({
      authType: authType === 'none' ? AUTH_TYPE.none : authTypeNumber(authType),
      sequence: this.outboundSequence,
      sessionId: this.sessionId,
      authCode: v15AuthCode(this.options.crypto, authType, this.options.password, this.sessionId, this.outboundSequence, message),
      message,
    });
  }

  private async activate(timeout: number): Promise<void> {
    const authType = authTypeNumber(this.authType);
    this.state = 'challenge';
    const challengeResponse = await this.preSession(getSessionChallengeRequest(authType, this.options.username), 0, 0, 'none', timeout, 2);
    const { temporarySessionId, challenge } = decodeSessionChallenge(challengeResponse);
    this.state = 'activate';
    const initialOutbound = randomNonZero32(this.options.crypto);
    const activation = decodeActivateSession(await this.preSession(activateSessionRequest(authType, this.options.privilege, challenge, initialOutbound), temporarySessionId, 0, this.authType, timeout, 3));
    this.sessionId = activation.sessionId;
    // The BMC names the first sequence number it expects from us; frameIpmi increments before use.
    this.outboundSequence = (activation.initialInboundSequence - 1) >>> 0;
  }

  /** One request/response outside the activated session (challenge, activate): v1.5 framing with the given auth. */
  private async preSession(command: CommandRequest, sessionId: number, sequence: number, authType: V15AuthType, timeout: number, rqSeq: number): Promise<Uint8Array> {
    const { completionCode, data } = await preSessionRequest(this.transport, this.waiter, command, rqSeq, timeout, `v1.5 cmd 0x${command.command.toString(16)}`, (message) =>
      encodeV15({ authType: authType === 'none' ? 0 : authTypeNumber(authType), sequence, sessionId, authCode: v15AuthCode(this.options.crypto, authType, this.options.password, sessionId, sequence, message), message }));
    if (completionCode === 0) return data;
    if (completionCode === 0x81 || completionCode === 0x82 || completionCode === 0x86) {
      throw new LightsoutError('BMC_AUTH_FAILED', `BMC refused the v1.5 login (completion code 0x${completionCode.toString(16)})`, { details: { completionCode } });
    }
    throw completionError(command, completionCode);
  }

  protected receiveInSession(datagram: Uint8Array): void {
    try {
      if (classifyDatagram(datagram) !== 'ipmi-v1.5') return;
      const packet = decodeV15(datagram);
      if (packet.sessionId !== this.sessionId) {
        this.refused.wrongSession++;
        return;
      }
      if (packet.authType !== AUTH_TYPE.none) verifyV15AuthCode(this.options.crypto, this.authType, this.options.password, packet);
      else if (this.perMessageAuth) {
        this.refused.integrity++;
        return;
      }
      if (packet.sequence !== 0 && !this.replayWindow.accept(packet.sequence)) {
        this.refused.replayed++;
        return;
      }
      decodeIpmiMessage(packet.message);
      this.deliverIpmi(packet.message);
    } catch {
      this.refused.malformed++;
    }
  }
}
