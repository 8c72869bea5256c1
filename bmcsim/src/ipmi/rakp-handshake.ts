import {
  additionalKeys,
  bytesEqual,
  type CipherSuite,
  cipherSuiteById,
  decodeOpenSessionRequest,
  decodeRakp1,
  decodeRakp3Or4,
  encodeOpenSessionResponse,
  encodeRakp2,
  encodeRakp3Or4,
  PRIVILEGE,
  type RakpContext,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  ReplayWindow,
  RMCP_PLUS_STATUS,
  sessionIntegrityKey,
} from '@lightsout/bmc-wire/ipmi';
import { nodeCrypto } from './node-crypto.js';
import type { Bmc } from '../bmc/bmc.js';
import { PRIVILEGE_LEVEL } from '../bmc/config.js';
import { MAX_SESSIONS, type RmcpPlusSession, type SessionTable } from './sessions.js';
import type { Remote } from './transport.js';

/**
 * The BMC side of RMCP+ session establishment (IPMI v2.0 §13.17–§13.23):
 * Open Session, then RAKP 1 → 2 and RAKP 3 → 4, moving a session record
 * opened → challenged → active. Any refusal removes the record; the fault
 * knob `dropRakpReply` makes the BMC fall silent at RAKP 2 or RAKP 4.
 */
export interface HandshakeOptions {
  bmc: Bmc;
  table: SessionTable;
  suites: readonly CipherSuite[];
  randomId: () => number;
  /** Sends a SOL payload inside an active session (becomes the session's SOL owner). */
  sendSol(session: RmcpPlusSession, payload: Uint8Array): void;
}

export class RmcpPlusHandshake {
  /** RAKP 1 messages received: one per login attempt (what a real BMC counts towards locking the account). */
  loginAttempts = 0;

  constructor(private readonly options: HandshakeOptions) {}

  // Open Session, §13.17–§13.18.
  openSession(payload: Uint8Array, remote: Remote, reply: (payload: Uint8Array) => void): void {
    const request = decodeOpenSessionRequest(payload);
    const refuse = (status: number) => reply(encodeOpenSessionResponse({ tag: request.tag, status, privilege: 0, consoleSessionId: request.consoleSessionId, bmcSessionId: 0, authentication: 0, integrity: 0, confidentiality: 0 }));
    const requested = this.options.suites.find((candidate) => candidate.authentication.id === request.authentication && candidate.integrity.id === request.integrity && candidate.confidentiality.id === request.confidentiality);
    // Fault answerSuite3: the BMC settles on suite 3 whatever was asked and says so only in the algorithm records.
    const suite = this.options.bmc.config.faults.answerSuite3 && requested !== undefined ? cipherSuiteById(3)! : requested;
    if (!suite) {
      if (!this.options.suites.some((candidate) => candidate.authentication.id === request.authentication)) return refuse(RMCP_PLUS_STATUS.invalidAuthenticationAlgorithm);
      if (!this.options.suites.some((candidate) => candidate.integrity.id === request.integrity)) return refuse(RMCP_PLUS_STATUS.invalidIntegrityAlgorithm);
      if (!this.options.suites.some((candidate) => candidate.confidentiality.id === request.confidentiality)) return refuse(RMCP_PLUS_STATUS.invalidConfidentialityAlgorithm);
      return refuse(RMCP_PLUS_STATUS.noCipherSuiteMatch);
    }
    if (request.privilege > PRIVILEGE.oem) return refuse(RMCP_PLUS_STATUS.invalidRole);
    if (request.consoleSessionId === 0) return refuse(RMCP_PLUS_STATUS.illegalParameter);
    if (this.options.table.sessions.size >= MAX_SESSIONS) return refuse(RMCP_PLUS_STATUS.insufficientResources);
    const sessionId = this.options.table.newId(this.options.randomId);
    const session: RmcpPlusSession = {
      kind: 'rmcp+',
      state: 'opened',
      sessionId,
      consoleSessionId: request.consoleSessionId,
      suite,
      remote,
      lastActivity: this.options.bmc.clock.now(),
      user: undefined,
      role: 0,
      consoleRandom: new Uint8Array(16),
      bmcRandom: new Uint8Array(16),
      security: undefined,
      privilege: PRIVILEGE.user,
      // "0 = highest the user may have" is settled at RAKP 1, once the user is known.
      maxPrivilege: request.privilege === 0 ? PRIVILEGE.administrator : request.privilege,
      outboundSequence: 0,
      replay: new ReplayWindow(16),
      solOwner: undefined,
    };
    session.solOwner = { sessionId, send: (solPayload) => this.options.sendSol(session, solPayload) };
    this.options.table.add(session);
    reply(
      encodeOpenSessionResponse({
        tag: request.tag,
        status: RMCP_PLUS_STATUS.ok,
        privilege: session.maxPrivilege,
        consoleSessionId: request.consoleSessionId,
        bmcSessionId: sessionId,
        authentication: suite.authentication.id,
        integrity: suite.integrity.id,
        confidentiality: suite.confidentiality.id,
      }),
    );
  }

  // RAKP 1 → RAKP 2, §13.20–§13.21.
  rakp1(payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    const message = decodeRakp1(payload);
    this.loginAttempts++;
    const session = this.options.table.sessions.get(message.bmcSessionId);
    if (!session || session.kind !== 'rmcp+' || session.state !== 'opened') return reply(encodeRakp2({ tag: message.tag, status: RMCP_PLUS_STATUS.invalidSessionId, consoleSessionId: 0, bmcRandom: new Uint8Array(), bmcGuid: new Uint8Array(), authCode: new Uint8Array() }));
    const refuse = (status: number) => {
      this.options.table.remove(session.sessionId);
      reply(encodeRakp2({ tag: message.tag, status, consoleSessionId: session.consoleSessionId, bmcRandom: new Uint8Array(), bmcGuid: new Uint8Array(), authCode: new Uint8Array() }));
    };
    const user = this.options.bmc.config.users.find((candidate) => candidate.name === message.username);
    if (!user) return refuse(RMCP_PLUS_STATUS.unauthorizedName);
    const requested = message.role & 0x0f;
    const userMax = PRIVILEGE_LEVEL[user.privilege];
    if (requested < PRIVILEGE.callback || requested > PRIVILEGE.oem) return refuse(RMCP_PLUS_STATUS.invalidRole);
    if (requested > userMax) return refuse(RMCP_PLUS_STATUS.unauthorizedRole);
    if (this.options.bmc.config.faults.dropRakpReply === 2) return; // fault: the BMC never answers RAKP 1
    session.user = user;
    session.role = message.role;
    session.maxPrivilege = requested;
    session.privilege = Math.min(PRIVILEGE.user, requested);
    session.consoleRandom = message.consoleRandom;
    session.bmcRandom = nodeCrypto.randomBytes(16);
    session.state = 'challenged';
    session.lastActivity = this.options.bmc.clock.now();
    const context = this.rakpContext(session);
    reply(encodeRakp2({ tag: message.tag, status: RMCP_PLUS_STATUS.ok, consoleSessionId: session.consoleSessionId, bmcRandom: session.bmcRandom, bmcGuid: this.options.bmc.guid, authCode: rakp2AuthCode(context) }));
  }

  // RAKP 3 → RAKP 4, §13.22–§13.23; the session becomes active with K1/K2 (§13.32).
  rakp3(payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    const message = decodeRakp3Or4(payload);
    const session = this.options.table.sessions.get(message.sessionId);
    if (!session || session.kind !== 'rmcp+' || session.state !== 'challenged') return reply(encodeRakp3Or4({ tag: message.tag, status: RMCP_PLUS_STATUS.invalidSessionId, sessionId: 0, authCode: new Uint8Array() }));
    if (message.status !== RMCP_PLUS_STATUS.ok) {
      this.options.table.remove(session.sessionId); // the console rejected our RAKP 2 (wrong password on its side)
      return;
    }
    const context = this.rakpContext(session);
    if (!bytesEqual(message.authCode, rakp3AuthCode(context))) {
      this.options.table.remove(session.sessionId);
      return reply(encodeRakp3Or4({ tag: message.tag, status: RMCP_PLUS_STATUS.invalidIntegrityCheckValue, sessionId: session.consoleSessionId, authCode: new Uint8Array() }));
    }
    if (this.options.bmc.config.faults.dropRakpReply === 4) return; // fault: the BMC never answers RAKP 3
    const sik = sessionIntegrityKey(context);
    const { k1, k2 } = additionalKeys(context, sik);
    session.security = { crypto: nodeCrypto, integrity: session.suite.integrity, confidentiality: session.suite.confidentiality, k1, k2 };
    session.state = 'active';
    session.lastActivity = this.options.bmc.clock.now();
    reply(encodeRakp3Or4({ tag: message.tag, status: RMCP_PLUS_STATUS.ok, sessionId: session.consoleSessionId, authCode: rakp4Icv(context, sik) }));
  }

  private rakpContext(session: RmcpPlusSession): RakpContext {
    return {
      suite: session.suite,
      crypto: nodeCrypto,
      consoleSessionId: session.consoleSessionId,
      bmcSessionId: session.sessionId,
      consoleRandom: session.consoleRandom,
      bmcRandom: session.bmcRandom,
      bmcGuid: this.options.bmc.guid,
      role: session.role,
      username: session.user!.name,
      password: session.user!.password,
    };
  }
}
