import {
  APP_COMMAND,
  AUTH_TYPE,
  bytesEqual,
  cipherSuiteById,
  classifyDatagram,
  COMPLETION,
  decodeActivateSessionRequest,
  decodeAsf,
  decodeChannelAuthCapabilitiesRequest,
  decodeIpmiMessage,
  decodeRmcpPlus,
  decodeSessionChallengeRequest,
  decodeV15,
  encodeActivateSession,
  encodeAsf,
  encodeChannelAuthCapabilities,
  encodeCipherSuiteRecords,
  encodeIpmiMessage,
  encodeRmcpPlus,
  encodeSessionInfo,
  encodeSystemGuid,
  encodeV15,
  type IpmiMessage,
  NET_FN,
  PAYLOAD_TYPE,
  PRIVILEGE,
  ReplayWindow,
  responseMessage,
  v15AuthCode,
  verifyV15AuthCode,
  type CipherSuite,
} from '@lightsout/bmc-wire/ipmi';
import { nodeCrypto } from './node-crypto.js';
import type { Bmc, BmcService } from '../bmc/bmc.js';
import { PRIVILEGE_LEVEL } from '../bmc/config.js';
import { type CommandContext, type CommandResult, type CommandSession, deviceId, handleCommand } from './commands.js';
import { type LanSession, MAX_SESSIONS, type RmcpPlusSession, SessionTable, type V15Session } from './sessions.js';
import { RmcpPlusHandshake } from './rakp-handshake.js';
import { SolPayload } from './sol.js';
import { type Remote, UdpTransport } from './transport.js';

/**
 * One BMC's IPMI LAN interface (UDP 623): pre-session discovery, RMCP+
 * session establishment (IPMI v2.0 §13.15–§13.23) for suites 1, 2, 3 and 17,
 * IPMI v1.5 sessions (§22.12–§22.17, MD5 and straight password), commands,
 * and the SOL payload. Malformed or unauthenticated datagrams are dropped
 * silently, as BMCs do: a UDP peer gets no error channel.
 */
const SUPPORTED_SUITES = [1, 2, 3, 17];

export class IpmiLanServer implements BmcService {
  private readonly transport: UdpTransport;
  private readonly table: SessionTable;
  private readonly sol: SolPayload;
  private readonly suites: CipherSuite[];
  private readonly handshake: RmcpPlusHandshake;
  private port = 0;

  constructor(private readonly bmc: Bmc) {
    const faults = bmc.config.faults;
    this.transport = new UdpTransport(faults, (datagram, remote) => this.receive(datagram, remote));
    this.table = new SessionTable(() => bmc.clock.now(), bmc.config.sessionTimeoutSeconds * 1000, (session) => this.sol.releaseIfOwner(session.sessionId));
    this.sol = new SolPayload({ host: bmc.host, maxData: 0xff - 4, retryMs: 500, maxRetries: 7 });
    if (faults.solHeldByOtherSession) this.sol.holdForPhantom();
    this.suites = SUPPORTED_SUITES.filter((id) => !(faults.noSuite17 && id === 17)).map((id) => cipherSuiteById(id)!);
    this.handshake = new RmcpPlusHandshake({ bmc, table: this.table, suites: this.suites, randomId: randomU32, sendSol: (session, payload) => this.sendRmcpPlus(session, PAYLOAD_TYPE.sol, payload) });
  }

  /** RMCP+ login attempts so far (RAKP 1 messages). */
  get loginAttempts(): number {
    return this.handshake.loginAttempts;
  }

  /** Whether the SOL payload is active (on any session). */
  get solActive(): boolean {
    return this.sol.active;
  }

  async listen(port: number, address: string): Promise<number> {
    this.port = await this.transport.bind(port, address);
    return this.port;
  }

  async close(): Promise<void> {
    this.table.dispose();
    this.sol.dispose();
    await this.transport.close();
  }

  private receive(datagram: Uint8Array, remote: Remote): void {
    try {
      const kind = classifyDatagram(datagram);
      if (kind === 'asf') {
        const message = decodeAsf(datagram);
        if (message.kind === 'ping') this.transport.send(encodeAsf({ kind: 'pong', tag: message.tag, ipmiSupported: true }), remote);
      } else if (kind === 'ipmi-v1.5') {
        this.receiveV15(datagram, remote);
      } else if (!this.bmc.config.faults.v15Only) {
        this.receiveRmcpPlus(datagram, remote);
      }
    } catch {
      // Malformed, forged or replayed: drop it (a BMC has no way to report it).
    }
  }

  private get context(): CommandContext {
    return { bmc: this.bmc, sol: this.sol, port: this.port, closeSession: (id) => this.table.remove(id), sessionInfo: (session, request) => this.sessionInfo(session, request) };
  }

  // Get Session Info, §22.20. Handles are positions in the session table (1-based), stable while no session ends.
  private sessionInfo(requester: CommandSession, request: Uint8Array): CommandResult {
    const active = [...this.table.sessions.values()];
    const index = request[0] ?? 0;
    let target: LanSession | undefined;
    if (index === 0) target = active.find((candidate) => candidate.sessionId === requester.sessionId);
    else if (index === 0xfe) target = active[(request[1] ?? 0) - 1];
    else if (index === 0xff) {
      if (request.length < 5) return { completionCode: COMPLETION.requestLengthInvalid };
      const sessionId = (request[1]! | (request[2]! << 8) | (request[3]! << 16) | (request[4]! << 24)) >>> 0;
      target = active.find((candidate) => candidate.sessionId === sessionId);
    } else target = active[index - 1];
    const head = { possibleSessions: MAX_SESSIONS, activeSessions: active.length };
    if (target === undefined) return { completionCode: COMPLETION.ok, data: encodeSessionInfo({ handle: 0, ...head }) };
    const userId = target.user === undefined ? 0 : this.bmc.config.users.indexOf(target.user) + 1;
    const address = /^\d+\.\d+\.\d+\.\d+$/.test(target.remote.address) ? target.remote.address : '0.0.0.0';
    return {
      completionCode: COMPLETION.ok,
      data: encodeSessionInfo({ handle: active.indexOf(target) + 1, ...head, session: { userId, privilege: target.privilege, rmcpPlus: target.kind === 'rmcp+', channel: 1, address, port: target.remote.port } }),
    };
  }

  // ---- pre-session commands (both framings) ------------------------------

  /** Commands allowed outside a session: discovery and the v1.5 challenge. */
  private preSession(request: IpmiMessage): { completionCode: number; data?: Uint8Array } | undefined {
    if (request.netFn !== NET_FN.app) return undefined;
    switch (request.command) {
      case APP_COMMAND.getChannelAuthCapabilities: {
        const parsed = decodeChannelAuthCapabilitiesRequest(request.data);
        // A v1.5-only BMC does not know the "v2.0 extended data" bit (§22.13).
        if (parsed.extended && this.bmc.config.faults.v15Only) return { completionCode: COMPLETION.invalidDataField };
        const data = encodeChannelAuthCapabilities(
          { channel: 1, authTypes: { none: false, md2: false, md5: true, straight: true, oem: false }, kgSet: false, perMessageAuthDisabled: false, userLevelAuthDisabled: false, nonNullUsers: true, nullUsers: false, anonymousLogin: false, ipmi20: true, ipmi15: true },
          parsed.extended,
        );
        return { completionCode: COMPLETION.ok, data };
      }
      case APP_COMMAND.getChannelCipherSuites: {
        // | channel (1) | payload type (1) | list index (1) | → | channel (1) | 16-byte block of records |
        const records = encodeCipherSuiteRecords(this.suites.map((suite) => ({ id: suite.id, authentication: suite.authentication.id, integrity: [suite.integrity.id], confidentiality: [suite.confidentiality.id] })));
        const index = (request.data[2] ?? 0) & 0x3f;
        return { completionCode: COMPLETION.ok, data: Uint8Array.of(1, ...records.subarray(index * 16, index * 16 + 16)) };
      }
      case APP_COMMAND.getDeviceId:
        return { completionCode: COMPLETION.ok, data: deviceId(this.bmc.config.faults) };
      case APP_COMMAND.getSessionChallenge:
        return this.sessionChallenge(request);
      // §22.14: outside a session too; the same UUID the Redfish service root reports.
      case APP_COMMAND.getSystemGuid:
        return { completionCode: COMPLETION.ok, data: encodeSystemGuid(this.bmc.uuid) };
      default:
        return undefined;
    }
  }

  /** Discovery commands answer the same inside a session (`ipmitool channel getciphers`). */
  private discovery(request: IpmiMessage): { completionCode: number; data?: Uint8Array } | undefined {
    const discoveryCommand = request.netFn === NET_FN.app && (request.command === APP_COMMAND.getChannelAuthCapabilities || request.command === APP_COMMAND.getChannelCipherSuites);
    return discoveryCommand ? this.preSession(request) : undefined;
  }

  // ---- IPMI v1.5 ------------------------------------------------------------

  private receiveV15(datagram: Uint8Array, remote: Remote): void {
    const packet = decodeV15(datagram);
    const request = decodeIpmiMessage(packet.message);
    if (packet.sessionId === 0) {
      const result = this.preSession(request);
      if (!result) return;
      const message = encodeIpmiMessage(responseMessage(request, result.completionCode, result.data));
      this.transport.send(encodeV15({ authType: AUTH_TYPE.none, sequence: 0, sessionId: 0, authCode: undefined, message }), remote);
      return;
    }
    const challenge = this.table.challenges.get(packet.sessionId);
    if (challenge && request.netFn === NET_FN.app && request.command === APP_COMMAND.activateSession) {
      verifyV15AuthCode(nodeCrypto, challenge.authType, challenge.user.password, packet);
      this.activateV15(packet.sessionId, request, remote);
      return;
    }
    const session = this.table.sessions.get(packet.sessionId);
    if (!session || session.kind !== 'v1.5') return;
    if (packet.authType !== AUTH_TYPE[session.authType]) return;
    verifyV15AuthCode(nodeCrypto, session.authType, session.user.password, packet);
    if (!session.replay.accept(packet.sequence)) return;
    session.lastActivity = this.bmc.clock.now();
    const result = this.discovery(request) ?? handleCommand(this.context, session, request.netFn, request.command, request.data);
    this.sendV15(session, packet.sessionId, responseMessage(request, result.completionCode, result.data));
  }

  private sessionChallenge(request: IpmiMessage): { completionCode: number; data?: Uint8Array } {
    const parsed = decodeSessionChallengeRequest(request.data);
    const authType = parsed.authType === AUTH_TYPE.md5 ? 'md5' : parsed.authType === AUTH_TYPE.straight ? 'straight' : undefined;
    if (!authType) return { completionCode: COMPLETION.invalidDataField };
    const user = this.bmc.config.users.find((candidate) => candidate.name === parsed.username);
    if (!user) return { completionCode: parsed.username === '' ? 0x82 : 0x81 }; // null user disabled / invalid user name
    const temporaryId = this.table.newId(randomU32);
    const challenge = nodeCrypto.randomBytes(16);
    this.table.addChallenge(temporaryId, { user, authType, challenge, createdAt: this.bmc.clock.now() });
    return { completionCode: COMPLETION.ok, data: Uint8Array.of(...u32(temporaryId), ...challenge) };
  }

  private activateV15(temporaryId: number, request: IpmiMessage, remote: Remote): void {
    const challenge = this.table.challenges.get(temporaryId)!;
    this.table.challenges.delete(temporaryId);
    const parsed = decodeActivateSessionRequest(request.data);
    // §22.17: the response already carries the console's initial outbound sequence number (ipmi_sim does
    // the same); FreeIPMI starts its inbound window there and drops every later answer when it reads 0.
    const replySequence = parsed.initialOutboundSequence >>> 0;
    const reply = (completionCode: number, data?: Uint8Array) => {
      const message = encodeIpmiMessage(responseMessage(request, completionCode, data));
      const authCode = v15AuthCode(nodeCrypto, challenge.authType, challenge.user.password, temporaryId, replySequence, message);
      this.transport.send(encodeV15({ authType: AUTH_TYPE[challenge.authType], sequence: replySequence, sessionId: temporaryId, authCode, message }), remote);
    };
    if (!bytesEqual(parsed.challenge, challenge.challenge) || parsed.authType !== AUTH_TYPE[challenge.authType]) return reply(0x84); // invalid session challenge / auth type
    const userMax = PRIVILEGE_LEVEL[challenge.user.privilege];
    if (parsed.privilege > userMax) return reply(0x86); // requested privilege exceeds the user's limit
    if (this.table.sessions.size >= MAX_SESSIONS) return reply(0x83); // no session slot available
    const sessionId = this.table.newId(randomU32);
    // §22.17: the console names the sequence our messages start at; we name where its messages start.
    const initialInboundSequence = (randomU32() | 1) >>> 0;
    const session: V15Session = {
      kind: 'v1.5',
      sessionId,
      authType: challenge.authType,
      user: challenge.user,
      remote,
      lastActivity: this.bmc.clock.now(),
      privilege: Math.min(PRIVILEGE.user, parsed.privilege),
      maxPrivilege: parsed.privilege,
      outboundSequence: replySequence,
      replay: new ReplayWindow(16),
      solOwner: undefined,
    };
    this.table.add(session);
    reply(COMPLETION.ok, encodeActivateSession({ authType: AUTH_TYPE[challenge.authType], sessionId, initialInboundSequence, privilege: parsed.privilege }));
  }

  private sendV15(session: V15Session, sessionId: number, response: IpmiMessage): void {
    const message = encodeIpmiMessage(response);
    session.outboundSequence = (session.outboundSequence + 1) >>> 0;
    const authCode = v15AuthCode(nodeCrypto, session.authType, session.user.password, sessionId, session.outboundSequence, message);
    this.transport.send(encodeV15({ authType: AUTH_TYPE[session.authType], sequence: session.outboundSequence, sessionId, authCode, message }), session.remote);
  }

  // ---- RMCP+ ------------------------------------------------------------------

  private receiveRmcpPlus(datagram: Uint8Array, remote: Remote): void {
    const sessionId = readSessionId(datagram);
    if (sessionId === 0) return this.receiveUnauthenticated(datagram, remote);
    const session = this.table.sessions.get(sessionId);
    if (!session || session.kind !== 'rmcp+' || session.state !== 'active') return;
    const packet = decodeRmcpPlus(datagram, session.security);
    // Integrity is mandatory once negotiated: an unauthenticated packet could be forged.
    if (session.suite.integrity.hash !== null && !packet.authenticated) return;
    if (!session.replay.accept(packet.sequence)) return;
    session.lastActivity = this.bmc.clock.now();
    session.remote = remote;
    if (packet.payloadType === PAYLOAD_TYPE.sol) {
      if (this.sol.isOwner(session.sessionId)) this.sol.receive(packet.payload);
      return;
    }
    if (packet.payloadType !== PAYLOAD_TYPE.ipmi) return;
    const request = decodeIpmiMessage(packet.payload);
    const result = this.discovery(request) ?? handleCommand(this.context, session, request.netFn, request.command, request.data);
    // Close Session answers under the old keys even when it closed this very session
    // (the table already released SOL if this session owned it).
    this.sendRmcpPlus(session, PAYLOAD_TYPE.ipmi, encodeIpmiMessage(responseMessage(request, result.completionCode, result.data)));
  }

  private sendRmcpPlus(session: RmcpPlusSession, payloadType: number, payload: Uint8Array): void {
    session.outboundSequence = (session.outboundSequence + 1) >>> 0 || 1;
    this.transport.send(encodeRmcpPlus({ payloadType, sessionId: session.consoleSessionId, sequence: session.outboundSequence, payload }, session.security), session.remote);
  }

  private receiveUnauthenticated(datagram: Uint8Array, remote: Remote): void {
    const packet = decodeRmcpPlus(datagram);
    const reply = (payloadType: number, payload: Uint8Array) => this.transport.send(encodeRmcpPlus({ payloadType, sessionId: 0, sequence: 0, payload }), remote);
    switch (packet.payloadType) {
      case PAYLOAD_TYPE.ipmi: {
        const request = decodeIpmiMessage(packet.payload);
        const result = this.preSession(request);
        if (result) reply(PAYLOAD_TYPE.ipmi, encodeIpmiMessage(responseMessage(request, result.completionCode, result.data)));
        return;
      }
      case PAYLOAD_TYPE.openSessionRequest:
        return this.handshake.openSession(packet.payload, remote, (payload) => reply(PAYLOAD_TYPE.openSessionResponse, payload));
      case PAYLOAD_TYPE.rakp1:
        return this.handshake.rakp1(packet.payload, (payload) => reply(PAYLOAD_TYPE.rakp2, payload));
      case PAYLOAD_TYPE.rakp3:
        return this.handshake.rakp3(packet.payload, (payload) => reply(PAYLOAD_TYPE.rakp4, payload));
      default:
        return;
    }
  }

}

function readSessionId(datagram: Uint8Array): number {
  if (datagram.length < 10) return 0;
  return (datagram[6]! | (datagram[7]! << 8) | (datagram[8]! << 16) | (datagram[9]! << 24)) >>> 0;
}

function randomU32(): number {
  const bytes = nodeCrypto.randomBytes(4);
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

export type { LanSession };
