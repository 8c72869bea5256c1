import {
  classifyDatagram, decodeActivateSession, decodeAsf, decodeChannelAuthCapabilities, decodeChassisStatus, decodeCipherSuiteRecords, decodeDeviceId, decodeGetSdr, decodeGetSelEntry,
  decodeIpmiMessage, decodeOpenSessionRequest, decodeOpenSessionResponse, decodePayloadActivation, decodeRakp1, decodeRakp2, decodeRakp3Or4, decodeRmcpPlus, decodeSdrRecord, decodeSelInfo,
  decodeSelRecord, decodeSensorReading, decodeSessionChallenge, decodeSessionInfo, decodeSolPacket, decodeV15, encodeSolPacket, fromHex, PAYLOAD_TYPE,
} from '@lightsout/bmc-wire/ipmi';
import { ipmitoolCaptures } from '@lightsout/bmc-wire/testing';
import { LightsoutError } from '@lightsout/shared';
import type { Outcome, Target } from '../engine.js';

const VALUE: Outcome = { kind: 'value' };
const captures = ipmitoolCaptures();
const lanplus = captures.lanplus.map(({ bytes }) => bytes).filter((datagram) => classifyDatagram(datagram) === 'rmcp+');
const lan = captures.lan.map(({ bytes }) => bytes);

/** The RMCP+ datagrams that decode outside a session (pre-session, Open Session, RAKP); the rest need the session's keys. */
function decodesWithoutSession(datagram: Uint8Array): boolean {
  try {
    decodeRmcpPlus(datagram);
    return true;
  } catch {
    return false;
  }
}
const presession = lanplus.filter(decodesWithoutSession);

/** RMCP+ payloads of one type from the ipmitool ⇄ ipmi_sim session (RAKP and Open Session travel unencrypted). */
function payloadsOf(type: number): Uint8Array[] {
  return presession.flatMap((datagram) => {
    const packet = decodeRmcpPlus(datagram);
    return packet.payloadType === type ? [packet.payload] : [];
  });
}

/**
 * Several decoders on the same bytes: an untyped throw from any of them is
 * rethrown at once (a finding); the input decodes when one of them accepts it,
 * else the first typed refusal stands.
 */
function anyOf(...decoders: Array<(bytes: Uint8Array) => unknown>): (bytes: Uint8Array) => void {
  return (bytes) => {
    let refusal: LightsoutError | undefined;
    let accepted = false;
    for (const decode of decoders) {
      try {
        decode(bytes);
        accepted = true;
      } catch (error) {
        if (!(error instanceof LightsoutError)) throw error;
        refusal ??= error;
      }
    }
    if (!accepted) throw refusal;
  };
}

/** A decoder over bytes that returns a value or throws: every return is a value. */
function bytesTarget(name: string, covers: string, seeds: () => Uint8Array[], decode: (bytes: Uint8Array) => unknown): Target<Uint8Array> {
  return {
    name,
    covers,
    kind: 'bytes',
    seeds,
    run(bytes) {
      decode(bytes);
      return VALUE;
    },
  };
}

export const ipmiTargets: Array<Target<Uint8Array>> = [
  bytesTarget('ipmi-rmcp', 'classifyDatagram, decodeAsf (RMCP header, ASF presence ping/pong)', () => [...lanplus, ...lan], (datagram) => {
    if (classifyDatagram(datagram) === 'asf') decodeAsf(datagram);
  }),
  bytesTarget('ipmi-v15', 'decodeV15 + decodeIpmiMessage (v1.5 session header, LAN message)', () => lan.filter((datagram) => classifyDatagram(datagram) === 'ipmi-v1.5'), (datagram) => {
    decodeIpmiMessage(decodeV15(datagram).message);
  }),
  bytesTarget('ipmi-rmcp-plus', 'decodeRmcpPlus (RMCP+ session header, outside a session)', () => presession, (datagram) => decodeRmcpPlus(datagram)),
  bytesTarget('ipmi-message', 'decodeIpmiMessage (both checksums, request and response)', () => lan.filter((datagram) => classifyDatagram(datagram) === 'ipmi-v1.5').map((datagram) => decodeV15(datagram).message), decodeIpmiMessage),
  bytesTarget('ipmi-open-session', 'decodeOpenSessionRequest / Response', () => [...payloadsOf(PAYLOAD_TYPE.openSessionRequest), ...payloadsOf(PAYLOAD_TYPE.openSessionResponse)], anyOf(decodeOpenSessionRequest, decodeOpenSessionResponse)),
  bytesTarget('ipmi-rakp1', 'decodeRakp1', () => payloadsOf(PAYLOAD_TYPE.rakp1), decodeRakp1),
  bytesTarget('ipmi-rakp2', 'decodeRakp2', () => payloadsOf(PAYLOAD_TYPE.rakp2), decodeRakp2),
  bytesTarget('ipmi-rakp3-4', 'decodeRakp3Or4 (RAKP 3 from ipmitool, RAKP 4 from ipmi_sim)', () => [...payloadsOf(PAYLOAD_TYPE.rakp3), ...payloadsOf(PAYLOAD_TYPE.rakp4)], decodeRakp3Or4),
  bytesTarget('ipmi-sol', 'decodeSolPacket', () => [
    encodeSolPacket({ sequence: 1, ackSequence: 0, acceptedCount: 0, control: 0, data: new TextEncoder().encode('login: ') }),
    encodeSolPacket({ sequence: 0, ackSequence: 3, acceptedCount: 12, control: 0x40, data: new Uint8Array(0) }),
    encodeSolPacket({ sequence: 15, ackSequence: 15, acceptedCount: 255, control: 0x10, data: new Uint8Array(200).fill(0x41) }),
  ], decodeSolPacket),
  // Records as ipmi_sim serves them to ipmitool in the lab (commands.test.ts), and Get SDR / Get SEL Entry responses around them.
  bytesTarget('ipmi-sdr', 'decodeSdrRecord, decodeGetSdr', () => [
    fromHex('03005101352000010701450001010000000000000001000001000001010000000000ff000000000000000000000000ca426f6172642054656d70'),
    fromHex('040051022120000220010000256f000000000000c0000000000000000000008764dab6401801'),
    fromHex('02005103142000000701236f00000000c85761746368646f67'),
    fromHex('010051121c20000087000000070100d16c69676874736f7574206c616220424d43'),
    fromHex('0500510c00'),
  ], anyOf(decodeSdrRecord, decodeGetSdr)),
  bytesTarget('ipmi-sel', 'decodeSelRecord, decodeGetSelEntry, decodeSelInfo', () => [
    fromHex('01000242050000200004010101577270'),
    fromHex('02000200b955692000040901ef000000'),
    fromHex('0300e0000102030405060708090a0b0c'),
  ], anyOf(decodeSelRecord, decodeGetSelEntry, decodeSelInfo)),
  bytesTarget('ipmi-commands', 'App and Chassis response decoders (device id, auth capabilities, cipher suites, session info, payload activation, chassis status, sensor reading)', () => [
    fromHex('21010205029fa1b7004200'),
    fromHex('0196040300000000'),
    fromHex('000000002000004000a3ffff'),
  ], anyOf(decodeDeviceId, decodeChannelAuthCapabilities, decodeCipherSuiteRecords, decodeSessionInfo, decodePayloadActivation, decodeChassisStatus, decodeSensorReading, decodeSessionChallenge, decodeActivateSession)),
];
