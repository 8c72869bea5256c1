import { LightsoutError } from '@lightsout/shared';
import {
  PAYLOAD_TYPE, RMCP_PLUS_STATUS, ReplayWindow, additionalKeys, bytesEqual, cipherSuiteByAlgorithms, cipherSuiteById, classifyDatagram, closeSessionRequest, decodeOpenSessionResponse,
  decodeRakp2, decodeRakp3Or4, decodeRmcpPlus, encodeOpenSessionRequest, encodeRakp1, encodeRakp3Or4, encodeRmcpPlus, rakp2AuthCode, rakp3AuthCode, rakp4Icv,
  sessionIntegrityKey, wireError, wireReasonOf, type CipherSuite, type CommandRequest, type IpmiCrypto, type RakpContext, type RmcpPlusSecurity,
} from '@lightsout/bmc-wire/ipmi';
import type { DatagramTransport } from '../transport.js';
import { quirkEnabled, type QuirkSettings } from '../quirks.js';
import type { SessionLogger, SessionTiming } from './core.js';
import { HandshakingSession, randomNonZero32 } from './handshaking-session.js';
import { getAuthCapabilities, type AuthCapabilities } from './auth-caps.js';
import type { SuiteCache } from './suite-cache.js';

export interface RmcpPlusOptions {
  target: string;
  /** The BMC's UDP port as this session dials it (what an Activate Payload answer is compared with). */
  port: number;
  username: string;
  password: string;
  privilege: number;
  suitePreference: readonly number[];
  quirks: QuirkSettings | undefined;
  kg: Uint8Array | undefined;
  crypto: IpmiCrypto;
  timing: SessionTiming;
  suiteCache: SuiteCache;
  logger: SessionLogger | undefined;
}

/** Open Session statuses that mean "not this suite, try another" (§13.24). */
const SUITE_REJECTED: ReadonlySet<number> = new Set([
  RMCP_PLUS_STATUS.noCipherSuiteMatch,
  RMCP_PLUS_STATUS.invalidAuthenticationAlgorithm,
  RMCP_PLUS_STATUS.invalidIntegrityAlgorithm,
  RMCP_PLUS_STATUS.invalidConfidentialityAlgorithm,
]);

class SuiteRejected extends Error {}
class RoleRetry extends Error {}

/**
 * An IPMI v2.0 RMCP+ session (IPMI v2.0 §13.14–§13.24), as an explicit state
 * machine: idle → auth-caps → open-session → rakp1-2 → rakp3-4 → set-privilege
 * → active → closing → closed; any step can go to failed (the one fail path).
 * A timeout in any handshake step restarts the whole handshake.
 */
export class RmcpPlusSession extends HandshakingSession {
  suite: CipherSuite | undefined;
  consoleSessionId = 0;
  bmcSessionId = 0;
  private security: RmcpPlusSecurity | undefined;
  private outboundSequence = 0;
  private replayWindow = new ReplayWindow(8);
  private tag = 0;
  private solReceiver: ((payload: Uint8Array) => void) | undefined;

  constructor(transport: DatagramTransport, private readonly options: RmcpPlusOptions) {
    super(transport, options.timing, options.logger);
  }

  /** The UDP port this session sends to. */
  get port(): number {
    return this.options.port;
  }

  /**
   * Runs the handshake. Rejects with BMC_UNSUPPORTED / NO_IPMI20 when the BMC has no IPMI v2.0 (caller falls
   * back to v1.5): its capabilities say so, or they are unclear about it and Open Session was never answered.
   */
  async open(capabilities?: AuthCapabilities): Promise<void> {
    let flipRole = false;
    let lastError: unknown;
    let unclear = false;
    for (let attempt = 0; attempt < this.options.timing.handshakeAttempts; attempt++) {
      try {
        this.state = 'auth-caps';
        // A BMC with a cached suite is known to speak RMCP+: skip the capabilities round trip.
        if (this.options.suiteCache.get(this.options.target) === undefined || attempt > 0) {
          const caps = capabilities ?? (await getAuthCapabilities(this.transport, this.waiter, this.options.privilege, this.stepTimeout(attempt), 1));
          if (caps.rmcpPlus === 'absent') throw new LightsoutError('BMC_UNSUPPORTED', 'BMC does not offer IPMI v2.0 (RMCP+)', { details: { reason: 'NO_IPMI20' } });
          unclear = caps.rmcpPlus === 'unclear';
          if (unclear) this.options.logger?.debug({ target: this.options.target }, 'ipmi capabilities disagree about IPMI v2.0; trying RMCP+');
        }
        await this.negotiate(attempt, flipRole);
        await this.raisePrivilege(this.options.privilege);
        return;
      } catch (error) {
        lastError = error;
        if (error instanceof RoleRetry) {
          flipRole = true;
          continue;
        }
        if (!(error instanceof LightsoutError) || error.code !== 'BMC_TIMEOUT') break;
        this.options.logger?.debug({ attempt, step: this.state }, 'ipmi handshake timed out; restarting it');
      }
    }
    let failure = lastError instanceof LightsoutError ? lastError : new LightsoutError('BMC_PROTOCOL_ERROR', 'RMCP+ handshake failed', { cause: lastError });
    if (unclear && failure.code === 'BMC_TIMEOUT' && failure.details?.['step'] === 'Open Session') {
      // Capabilities that did not say RMCP+ and no answer to it: as good as "no IPMI v2.0".
      failure = new LightsoutError('BMC_UNSUPPORTED', 'BMC capabilities are unclear about IPMI v2.0 and it never answered RMCP+ Open Session', { cause: failure, details: { reason: 'NO_IPMI20' } });
    }
    this.fail(failure);
    throw failure;
  }

  /** Sends a SOL (or other non-IPMI) payload inside the session; every send gets a new session sequence. */
  sendPayload(payloadType: number, payload: Uint8Array): void {
    if (this.state !== 'active') throw this.failure ?? new LightsoutError('BMC_PROTOCOL_ERROR', `IPMI session is ${this.state}`);
    this.transport.send(encodeRmcpPlus({ payloadType, sessionId: this.bmcSessionId, sequence: this.nextOutboundSequence(), payload }, this.security));
  }

  onSolPayload(receiver: ((payload: Uint8Array) => void) | undefined): void {
    this.solReceiver = receiver;
  }

  protected closeRequest(): CommandRequest {
    return closeSessionRequest(this.bmcSessionId);
  }

  protected frameIpmi(message: Uint8Array): Uint8Array {
    return encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: this.bmcSessionId, sequence: this.nextOutboundSequence(), payload: message }, this.security);
  }

  private stepTimeout(attempt: number): number {
    return this.options.timing.handshakeTimeoutMs * (attempt + 1);
  }

  private async negotiate(attempt: number, flipRole: boolean): Promise<void> {
    const { options } = this;
    const suites = options.suiteCache.order(options.target, options.suitePreference);
    let notAllowed: LightsoutError | undefined;
    for (const suiteId of suites) {
      const suite = cipherSuiteById(suiteId);
      if (suite === undefined) throw new LightsoutError('CONFIG_INVALID', `cipher suite ${suiteId} is not implemented`);
      try {
        const negotiated = await this.handshake(suite, attempt, flipRole);
        options.suiteCache.set(options.target, negotiated.id);
        return;
      } catch (error) {
        if (error instanceof SuiteRejected) continue;
        if (error instanceof LightsoutError && error.details?.['reason'] === 'SUITE_NOT_ALLOWED') {
          notAllowed ??= error;
          continue;
        }
        throw error;
      }
    }
    throw notAllowed ?? new LightsoutError('BMC_UNSUPPORTED', `BMC accepts none of cipher suites ${suites.join(', ')}`, { hint: "list the BMC's suites with `ipmitool channel getciphers ipmi` and set ipmi.cipherSuite" });
  }

  /** One Open Session + RAKP exchange asking for `requested`; resolves with the suite the BMC settled on. */
  private async handshake(requested: CipherSuite, attempt: number, flipRole: boolean): Promise<CipherSuite> {
    const { options } = this;
    const timeout = this.stepTimeout(attempt);
    this.security = undefined;
    this.outboundSequence = 0;
    this.replayWindow = new ReplayWindow(8);
    this.consoleSessionId = randomNonZero32(options.crypto);
    const openSessionPrivilege = quirkEnabled(options.quirks, 'openSessionPrivilege');

    this.state = 'open-session';
    const openTag = this.nextTag();
    const openReply = this.waiter.wait((datagram) => this.handshakePayload(datagram, PAYLOAD_TYPE.openSessionResponse, openTag, decodeOpenSessionResponse, (message) => message.consoleSessionId), timeout, 'Open Session');
    this.sendPreSession(PAYLOAD_TYPE.openSessionRequest, encodeOpenSessionRequest({
      tag: openTag,
      // 0 = "the highest the user may have" (ipmitool); some BMCs hash this instead of the RAKP 1 role (quirk).
      privilege: openSessionPrivilege ? options.privilege : 0,
      consoleSessionId: this.consoleSessionId,
      authentication: requested.authentication.id,
      integrity: requested.integrity.id,
      confidentiality: requested.confidentiality.id,
    }));
    const open = await openReply;
    if (open.status !== 0) {
      if (SUITE_REJECTED.has(open.status)) throw new SuiteRejected();
      throw rakpFailure('Open Session', open.status);
    }
    const suite = this.settledSuite(requested, open);
    this.bmcSessionId = open.bmcSessionId;

    this.state = 'rakp1-2';
    const nameOnly = quirkEnabled(options.quirks, 'nameOnlyLookup') !== flipRole;
    const role = options.privilege | (nameOnly ? 0x10 : 0);
    const consoleRandom = options.crypto.randomBytes(16);
    const rakp1Tag = this.nextTag();
    const rakp2Reply = this.waiter.wait((datagram) => this.handshakePayload(datagram, PAYLOAD_TYPE.rakp2, rakp1Tag, decodeRakp2, (message) => message.consoleSessionId), timeout, 'RAKP 1');
    this.sendPreSession(PAYLOAD_TYPE.rakp1, encodeRakp1({ tag: rakp1Tag, bmcSessionId: this.bmcSessionId, consoleRandom, role, username: options.username, padUsername: quirkEnabled(options.quirks, 'usernamePadding') }));
    const rakp2 = await rakp2Reply;
    if (rakp2.status !== 0) throw rakpFailure('RAKP 2', rakp2.status);
    const context: RakpContext = {
      suite,
      crypto: options.crypto,
      consoleSessionId: this.consoleSessionId,
      bmcSessionId: this.bmcSessionId,
      consoleRandom,
      bmcRandom: rakp2.bmcRandom,
      bmcGuid: rakp2.bmcGuid,
      role: quirkEnabled(options.quirks, 'clearNameOnlyInHash') ? role & ~0x10 : role,
      username: options.username,
      password: options.password,
      ...(options.kg === undefined ? {} : { kg: options.kg }),
    };
    if (!bytesEqual(rakp2AuthCode(context), rakp2.authCode)) {
      this.state = 'rakp3-4';
      // Tell the BMC we refused it (status 0x0F), so it frees the session slot.
      this.sendPreSession(PAYLOAD_TYPE.rakp3, encodeRakp3Or4({ tag: this.nextTag(), status: RMCP_PLUS_STATUS.invalidIntegrityCheckValue, sessionId: this.bmcSessionId, authCode: new Uint8Array() }));
      if (openSessionPrivilege && !flipRole) throw new RoleRetry();
      throw new LightsoutError('BMC_AUTH_FAILED', 'BMC rejected the credentials (RAKP 2 HMAC mismatch: wrong password?)', { details: { reason: 'RAKP_HMAC_MISMATCH' } });
    }

    this.state = 'rakp3-4';
    const rakp3Tag = this.nextTag();
    const rakp4Reply = this.waiter.wait((datagram) => this.handshakePayload(datagram, PAYLOAD_TYPE.rakp4, rakp3Tag, decodeRakp3Or4, (message) => message.sessionId), timeout, 'RAKP 3');
    this.sendPreSession(PAYLOAD_TYPE.rakp3, encodeRakp3Or4({ tag: rakp3Tag, status: 0, sessionId: this.bmcSessionId, authCode: rakp3AuthCode(context) }));
    const rakp4 = await rakp4Reply;
    if (rakp4.status !== 0) throw rakpFailure('RAKP 4', rakp4.status);
    const sik = sessionIntegrityKey(context);
    if (!bytesEqual(rakp4Icv(context, sik), rakp4.authCode)) throw new LightsoutError('BMC_AUTH_FAILED', 'RAKP 4 integrity check value mismatch', { details: { reason: 'RAKP_HMAC_MISMATCH' } });
    const { k1, k2 } = additionalKeys(context, sik);
    this.suite = suite;
    this.security = suite.integrity.hash === null && !suite.confidentiality.aes ? undefined : { crypto: options.crypto, integrity: suite.integrity, confidentiality: suite.confidentiality, k1, k2 };
    return suite;
  }

  /**
   * The Open Session response names the algorithms the BMC will use (§13.18); some BMCs answer a request
   * for suite 17 with status 0 and suite 3's. That choice is taken when it is a suite we implement and the
   * configuration allows (never a weaker one nobody asked for); the RAKP exchange then runs with it.
   */
  private settledSuite(requested: CipherSuite, open: { authentication: number; integrity: number; confidentiality: number }): CipherSuite {
    if (open.authentication === requested.authentication.id && open.integrity === requested.integrity.id && open.confidentiality === requested.confidentiality.id) return requested;
    const chosen = cipherSuiteByAlgorithms(open.authentication, open.integrity, open.confidentiality);
    const algorithms = `authentication ${open.authentication}, integrity ${open.integrity}, confidentiality ${open.confidentiality}`;
    if (chosen === undefined || !this.options.suitePreference.includes(chosen.id)) {
      // Tell the BMC nothing more: the session it opened times out. The caller's next suite (if any) is tried.
      throw new LightsoutError('BMC_UNSUPPORTED', `BMC answered a request for cipher suite ${requested.id} with ${chosen === undefined ? `algorithms no suite we implement uses (${algorithms})` : `cipher suite ${chosen.id}`}, which the configuration does not allow`, {
        details: { reason: 'SUITE_NOT_ALLOWED', requested: requested.id, ...(chosen === undefined ? {} : { chosen: chosen.id }) },
        hint: `set ipmi.cipherSuite to ${chosen === undefined ? "'auto'" : `${chosen.id} or 'auto'`} if this BMC may use it`,
      });
    }
    this.options.logger?.debug({ requested: requested.id, chosen: chosen.id }, 'BMC chose another cipher suite in Open Session; using it');
    return chosen;
  }

  /**
   * The awaited handshake reply (§13.17–§13.23), or undefined / a thrown wire error for anything else, which
   * the waiter counts and ignores: another payload type or tag (a late reply to an earlier attempt), a packet
   * with the authenticated or encrypted bit (handshake messages never have them; decodeRmcpPlus refuses it
   * without keys), or a reply with status 0 for another console session ID. A refusal status is taken
   * whatever session ID it carries: the BMC may leave it out.
   */
  private handshakePayload<T extends { tag: number; status: number }>(datagram: Uint8Array, payloadType: number, tag: number, decode: (payload: Uint8Array) => T, consoleSessionIdOf: (message: T) => number): T | undefined {
    if (classifyDatagram(datagram) !== 'rmcp+') return undefined;
    const packet = decodeRmcpPlus(datagram);
    if (packet.payloadType !== payloadType) return undefined;
    const message = decode(packet.payload);
    if (message.tag !== tag) return undefined;
    if (message.status === 0 && consoleSessionIdOf(message) !== this.consoleSessionId) throw wireError('WRONG_SESSION', `handshake reply for console session 0x${consoleSessionIdOf(message).toString(16)}`);
    return message;
  }

  private sendPreSession(payloadType: number, payload: Uint8Array): void {
    this.transport.send(encodeRmcpPlus({ payloadType, sessionId: 0, sequence: 0, payload }));
  }

  protected receiveInSession(datagram: Uint8Array): void {
    try {
      if (classifyDatagram(datagram) !== 'rmcp+') return;
      const packet = decodeRmcpPlus(datagram, this.security);
      if (packet.sessionId !== this.consoleSessionId) {
        this.refused.wrongSession++;
        return;
      }
      if (this.security !== undefined && this.security.integrity.hash !== null && !packet.authenticated) {
        this.refused.integrity++;
        return;
      }
      if (!this.replayWindow.accept(packet.sequence)) {
        this.refused.replayed++;
        // A BMC may retransmit a SOL packet with its old session sequence (seen with ipmi_sim under loss).
        // Dropping it would leave it unacknowledged forever; SOL has its own sequence numbers and delivers
        // a repeat at most once, so only the acknowledgement is repeated.
        if (packet.payloadType === PAYLOAD_TYPE.sol) this.solReceiver?.(packet.payload);
        return;
      }
      if (packet.payloadType === PAYLOAD_TYPE.ipmi) this.deliverIpmi(packet.payload);
      else if (packet.payloadType === PAYLOAD_TYPE.sol) this.solReceiver?.(packet.payload);
    } catch (error) {
      if (wireReasonOf(error) === 'BAD_INTEGRITY') this.refused.integrity++;
      else this.refused.malformed++;
    }
  }

  private nextOutboundSequence(): number {
    this.outboundSequence = (this.outboundSequence + 1) >>> 0;
    if (this.outboundSequence === 0) this.outboundSequence = 1;
    return this.outboundSequence;
  }

  private nextTag(): number {
    this.tag = (this.tag + 1) & 0xff;
    return this.tag;
  }
}

function rakpFailure(step: string, status: number): LightsoutError {
  const auth = status === RMCP_PLUS_STATUS.unauthorizedName || status === RMCP_PLUS_STATUS.invalidIntegrityCheckValue || status === RMCP_PLUS_STATUS.unauthorizedRole || status === RMCP_PLUS_STATUS.invalidRole;
  return new LightsoutError(auth ? 'BMC_AUTH_FAILED' : 'BMC_PROTOCOL_ERROR', `${step} refused by the BMC with RMCP+ status 0x${status.toString(16)}`, { details: { rmcpPlusStatus: status, reason: 'RAKP_STATUS' } });
}
