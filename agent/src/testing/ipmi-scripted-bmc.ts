import { createSocket, type RemoteInfo } from 'node:dgram';
import {
  PAYLOAD_TYPE, additionalKeys, bytesEqual, cipherSuiteByAlgorithms, classifyDatagram, decodeIpmiMessage, decodeOpenSessionRequest, decodeRakp1, decodeRakp3Or4,
  decodeRmcpPlus, decodeSolPacket, decodeV15, encodeChannelAuthCapabilities, encodeChassisStatus, encodeIpmiMessage, encodeOpenSessionResponse, encodePayloadActivation,
  encodeRakp2, encodeRakp3Or4, encodeRmcpPlus, encodeSolPacket, encodeV15, rakp2AuthCode, rakp3AuthCode, rakp4Icv, requestMessage, responseMessage, sessionIntegrityKey,
  type CipherSuite, type IpmiMessage, type RakpContext, type RmcpPlusSecurity, type SolPacket,
} from '@lightsout/bmc-wire/ipmi';
import { nodeCrypto } from '../ipmi/node-crypto.js';

/**
 * A small scripted RMCP+ BMC built from our own wire codecs in the BMC role,
 * for behaviour no real peer here produces: the vendor quirks of quirks.ts
 * and SOL partial ACKs / appended retransmits / NACKs. ipmi_sim and bmcsim
 * remain the peers for everything else.
 */
export interface ScriptedBmcOptions {
  username: string;
  password: string;
  suites?: number[];
  /** Hash the RAKP role without bit 4 (Intel 82571). */
  hashRoleWithoutNameOnly?: boolean;
  /** Refuse RAKP 1 unless the username field is 16 bytes (Intel 82571). */
  requirePaddedUsername?: boolean;
  /** Hash the Open Session privilege instead of the RAKP 1 role (FreeIPMI "opensesspriv" BMCs). */
  hashOpenSessionPrivilege?: boolean;
  /** Activate Payload succeeds only with this aux byte (else 0x83). */
  requireAux?: number;
  /** Surround every IPMI response with hostile copies: a replay, one for another session, one with a bad AuthCode, garbage. */
  noise?: boolean;
  /** Called for every SOL packet from the console; `send` answers with a SOL packet. */
  onSol?: (packet: SolPacket, send: (packet: SolPacket) => void) => void;
  /** Sees every IPMI request of an established session (netFn, command) before it is answered. */
  onCommand?: (netFn: number, command: number) => void;
  /** What Get Channel Authentication Capabilities offers (default: MD5, IPMI v2.0); without IPMI v2.0, RMCP+ goes unanswered. */
  offers?: { md5: boolean; straight: boolean; ipmi20: boolean };
  /**
   * Overrides what Get Channel Authentication Capabilities says about IPMI v2.0 (§22.13), whatever `offers`
   * says and RMCP+ really does: `extendedData` is byte 2 bit 7 ("IPMI v2.0+ extended capabilities
   * available"), `connections` byte 4 (bit 1 "IPMI v2.0 connections", bit 0 "IPMI v1.5 connections").
   */
  capabilityBits?: { extendedData: boolean; connections: number };
  /** The UDP port Activate Payload names for SOL (§24.1 bytes 9–10), from this BMC's own port; default that port, as ipmi_sim and bmcsim answer. */
  solPort?: (ownPort: number) => number;
  /** Sees the auxiliary request data byte of every Activate Payload (§24.1 byte 3). */
  onActivatePayload?: (auxiliary: number) => void;
  /** Sees every IPMI v1.5 request other than Get Channel Authentication Capabilities (command, AuthCode bytes). */
  onV15Command?: (command: number, authCode: Uint8Array | undefined) => void;
  /**
   * Datagrams no handshake step awaits, sent where a handshake reply goes: `before-each-reply` sends them
   * ahead of every Open Session response, RAKP 2 and RAKP 4; `instead-of-replies` sends them and never
   * answers Open Session. They are: a late, authenticated and encrypted reply of an earlier session (keys
   * this console never had), an Open Session response type with the authenticated bit set, and an Open
   * Session response with the right tag for another console session.
   */
  handshakeStrays?: 'before-each-reply' | 'instead-of-replies';
}

export interface ScriptedBmc {
  port: number;
  close(): Promise<void>;
}

interface Session {
  suite: CipherSuite;
  consoleSessionId: number;
  bmcSessionId: number;
  openPrivilege: number;
  context?: RakpContext;
  security?: RmcpPlusSecurity;
  sequence: number;
}

export async function startScriptedBmc(options: ScriptedBmcOptions): Promise<ScriptedBmc> {
  const socket = createSocket('udp4');
  const guid = new TextEncoder().encode('SCRIPTED-BMC-001');
  const sessions = new Map<number, Session>();
  let nextSessionId = 0x5000;
  const suites = options.suites ?? [3, 17];

  const reply = (remote: RemoteInfo, datagram: Uint8Array) => socket.send(datagram, remote.port, remote.address);
  const sendPayload = (remote: RemoteInfo, session: Session, payloadType: number, payload: Uint8Array) => {
    session.sequence++;
    reply(remote, encodeRmcpPlus({ payloadType, sessionId: session.consoleSessionId, sequence: session.sequence, payload }, session.security));
  };
  const sendStrays = (remote: RemoteInfo, suite: CipherSuite, tag: number, consoleSessionId: number) => {
    const earlier: RmcpPlusSecurity = { crypto: nodeCrypto, integrity: suite.integrity, confidentiality: suite.confidentiality, k1: nodeCrypto.randomBytes(32), k2: nodeCrypto.randomBytes(32).subarray(0, 16) };
    // Set Session Privilege's answer (App 0x3B), as a BMC still sends it to a console that gave up on that session.
    const lateReply = encodeIpmiMessage(responseMessage(requestMessage(0x06, 0x3b, 1, Uint8Array.of(4)), 0, Uint8Array.of(4)));
    reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: consoleSessionId ^ 0x0101, sequence: 7, payload: lateReply }, earlier));
    const flagged = encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.openSessionResponse, sessionId: 0, sequence: 0, payload: encodeOpenSessionResponse({ tag, status: 0, privilege: 4, consoleSessionId, bmcSessionId: 0x7777, authentication: 0, integrity: 0, confidentiality: 0 }) });
    flagged[5]! |= 0x40;
    reply(remote, flagged);
    reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.openSessionResponse, sessionId: 0, sequence: 0, payload: encodeOpenSessionResponse({ tag, status: 0, privilege: 4, consoleSessionId: consoleSessionId ^ 0x0101, bmcSessionId: 0x7778, authentication: 0, integrity: 0, confidentiality: 0 }) }));
  };
  const hashedRole = (session: Session, role: number) => {
    if (options.hashOpenSessionPrivilege) return (role & 0x10) | session.openPrivilege;
    return options.hashRoleWithoutNameOnly ? role & ~0x10 : role;
  };

  const handleIpmi = (remote: RemoteInfo, session: Session, request: IpmiMessage) => {
    const answer = (completionCode: number, data: Uint8Array = new Uint8Array()) => {
      const payload = encodeIpmiMessage(responseMessage(request, completionCode, data));
      if (!options.noise) return sendPayload(remote, session, PAYLOAD_TYPE.ipmi, payload);
      session.sequence++;
      const genuine = encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: session.consoleSessionId, sequence: session.sequence, payload }, session.security);
      const forged = genuine.slice();
      forged[forged.length - 1]! ^= 0xff;
      reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: session.consoleSessionId + 1, sequence: session.sequence + 1000, payload }, session.security));
      reply(remote, forged);
      reply(remote, Uint8Array.of(6, 0, 0xff, 7, 6, 0xc0, 1, 2, 3));
      reply(remote, genuine);
      reply(remote, genuine);
    };
    options.onCommand?.(request.netFn, request.command);
    const key = (request.netFn << 8) | request.command;
    if (key === 0x063b) answer(0, Uint8Array.of(request.data[0]! & 0x0f));
    else if (key === 0x0001) answer(0, encodeChassisStatus({ powerOn: true }));
    else if (key === 0x063c) {
      answer(0);
      sessions.delete(session.bmcSessionId);
    } else if (key === 0x0648) {
      options.onActivatePayload?.(request.data[2]!);
      if (options.requireAux !== undefined && request.data[2] !== options.requireAux) answer(0x83);
      else answer(0, encodePayloadActivation({ inboundSize: 36, outboundSize: 36, port: options.solPort?.(socket.address().port) ?? socket.address().port, vlan: 0xffff }));
    } else if (key === 0x0649) answer(0);
    else if (key === 0x064b) answer(0, Uint8Array.of(session.bmcSessionId & 0xff, (session.bmcSessionId >> 8) & 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    else answer(0xc1);
  };

  socket.on('message', (buffer, remote) => {
    const datagram = new Uint8Array(buffer);
    try {
      if (classifyDatagram(datagram) === 'ipmi-v1.5') {
        const v15 = decodeV15(datagram);
        const request = decodeIpmiMessage(v15.message);
        if (request.command !== 0x38) {
          options.onV15Command?.(request.command, v15.authCode);
          return;
        }
        const offers = options.offers ?? { md5: true, straight: false, ipmi20: true };
        const caps = encodeChannelAuthCapabilities({ channel: 1, authTypes: { none: false, md2: false, md5: offers.md5, straight: offers.straight, oem: false }, kgSet: false, perMessageAuthDisabled: false, userLevelAuthDisabled: false, nonNullUsers: true, nullUsers: false, anonymousLogin: false, ipmi20: offers.ipmi20, ipmi15: true }, true);
        if (options.capabilityBits !== undefined) {
          caps[1] = (caps[1]! & 0x7f) | (options.capabilityBits.extendedData ? 0x80 : 0);
          caps[3] = options.capabilityBits.connections;
        }
        reply(remote, encodeV15({ authType: 0, sequence: 0, sessionId: 0, authCode: undefined, message: encodeIpmiMessage(responseMessage(request, 0, caps)) }));
        return;
      }
      if (options.offers?.ipmi20 === false) return;
      const sessionId = new DataView(datagram.buffer, datagram.byteOffset).getUint32(6, true);
      const session = sessions.get(sessionId);
      const packet = decodeRmcpPlus(datagram, session?.security);
      switch (packet.payloadType) {
        case PAYLOAD_TYPE.openSessionRequest: {
          const request = decodeOpenSessionRequest(packet.payload);
          const suite = cipherSuiteByAlgorithms(request.authentication, request.integrity, request.confidentiality);
          if (suite === undefined || !suites.includes(suite.id)) {
            reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.openSessionResponse, sessionId: 0, sequence: 0, payload: Uint8Array.of(request.tag, 0x11) }));
            return;
          }
          if (options.handshakeStrays !== undefined) sendStrays(remote, suite, request.tag, request.consoleSessionId);
          if (options.handshakeStrays === 'instead-of-replies') return;
          const created: Session = { suite, consoleSessionId: request.consoleSessionId, bmcSessionId: nextSessionId++, openPrivilege: request.privilege, sequence: 0 };
          sessions.set(created.bmcSessionId, created);
          reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.openSessionResponse, sessionId: 0, sequence: 0, payload: encodeOpenSessionResponse({ ...request, status: 0, privilege: 4, bmcSessionId: created.bmcSessionId }) }));
          return;
        }
        case PAYLOAD_TYPE.rakp1: {
          const rakp1 = decodeRakp1(packet.payload);
          const target = sessions.get(rakp1.bmcSessionId);
          if (target === undefined) return;
          const bad = rakp1.username !== options.username || (options.requirePaddedUsername && !rakp1.padUsername);
          if (bad) {
            reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.rakp2, sessionId: 0, sequence: 0, payload: encodeRakp2({ tag: rakp1.tag, status: 0x0d, consoleSessionId: target.consoleSessionId, bmcRandom: new Uint8Array(), bmcGuid: new Uint8Array(), authCode: new Uint8Array() }) }));
            return;
          }
          if (options.handshakeStrays !== undefined) sendStrays(remote, target.suite, rakp1.tag, target.consoleSessionId);
          target.context = { suite: target.suite, crypto: nodeCrypto, consoleSessionId: target.consoleSessionId, bmcSessionId: target.bmcSessionId, consoleRandom: rakp1.consoleRandom, bmcRandom: nodeCrypto.randomBytes(16), bmcGuid: guid, role: hashedRole(target, rakp1.role), username: rakp1.username, password: options.password };
          reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.rakp2, sessionId: 0, sequence: 0, payload: encodeRakp2({ tag: rakp1.tag, status: 0, consoleSessionId: target.consoleSessionId, bmcRandom: target.context.bmcRandom, bmcGuid: guid, authCode: rakp2AuthCode(target.context) }) }));
          return;
        }
        case PAYLOAD_TYPE.rakp3: {
          const rakp3 = decodeRakp3Or4(packet.payload);
          const target = sessions.get(rakp3.sessionId);
          if (target?.context === undefined) return;
          const ok = rakp3.status === 0 && bytesEqual(rakp3AuthCode(target.context), rakp3.authCode);
          const sik = sessionIntegrityKey(target.context);
          if (options.handshakeStrays !== undefined) sendStrays(remote, target.suite, rakp3.tag, target.consoleSessionId);
          if (ok) {
            const { k1, k2 } = additionalKeys(target.context, sik);
            target.security = { crypto: nodeCrypto, integrity: target.suite.integrity, confidentiality: target.suite.confidentiality, k1, k2 };
          } else {
            sessions.delete(target.bmcSessionId);
          }
          reply(remote, encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.rakp4, sessionId: 0, sequence: 0, payload: encodeRakp3Or4({ tag: rakp3.tag, status: ok ? 0 : 0x0f, sessionId: target.consoleSessionId, authCode: ok ? rakp4Icv(target.context, sik) : new Uint8Array() }) }));
          return;
        }
        case PAYLOAD_TYPE.ipmi:
          if (session?.security !== undefined) handleIpmi(remote, session, decodeIpmiMessage(packet.payload));
          return;
        case PAYLOAD_TYPE.sol:
          if (session?.security !== undefined) options.onSol?.(decodeSolPacket(packet.payload), (answer) => sendPayload(remote, session, PAYLOAD_TYPE.sol, encodeSolPacket(answer)));
          return;
      }
    } catch {
      // A scripted peer ignores what it cannot parse, like a BMC.
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}
