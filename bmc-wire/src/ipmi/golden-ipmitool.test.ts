import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.js';
import { nodeCrypto } from '../testing/index.js';
import { classifyDatagram, decodeAsf, encodeAsf } from './rmcp.js';
import { decodeIpmiMessage, encodeIpmiMessage } from './message.js';
import { decodeV15, encodeV15, verifyV15AuthCode } from './session-v15.js';
import { PAYLOAD_TYPE, decodeRmcpPlus, encodeRmcpPlus, type RmcpPlusSecurity } from './session-v20.js';
import {
  additionalKeys, decodeOpenSessionRequest, decodeOpenSessionResponse, decodeRakp1, decodeRakp2, decodeRakp3Or4, encodeOpenSessionRequest, encodeOpenSessionResponse,
  encodeRakp1, encodeRakp2, encodeRakp3Or4, rakp2AuthCode, rakp3AuthCode, rakp4Icv, sessionIntegrityKey, type RakpContext,
} from './rakp.js';
import { cipherSuiteById } from './suites/registry.js';
import { decodeChannelAuthCapabilities } from './commands/app.js';
import { decodeChassisStatus } from './commands/chassis.js';

// Golden vectors: real ipmitool 1.8.19 ⇄ OpenIPMI ipmi_sim 2.0.33 exchanges,
// recorded by fixtures/capture-ipmitool.ts. Every datagram must decode, and
// re-encoding what we decoded must give the identical bytes.
interface Capture { command: string; output: string; datagrams: Array<{ direction: 'to-bmc' | 'to-client'; hex: string }> }
const captures = JSON.parse(readFileSync(new URL('../../fixtures/ipmi/ipmitool-captures.json', import.meta.url), 'utf8')) as { password: string; username: string; lanplus: Capture; lan: Capture };
const bytesOf = (capture: Capture) => capture.datagrams.map((datagram) => ({ ...datagram, bytes: fromHex(datagram.hex) }));

describe('golden: ipmitool -I lanplus -C 3 chassis power status', () => {
  const datagrams = bytesOf(captures.lanplus);
  const rmcpPlus = datagrams.filter((datagram) => classifyDatagram(datagram.bytes) === 'rmcp+');
  const payloadOf = (type: number) => decodeRmcpPlus(rmcpPlus.find((datagram) => (datagram.bytes[5]! & 0x3f) === type)!.bytes).payload;

  it('decodes and re-encodes every handshake payload byte-exactly', () => {
    const openRequest = payloadOf(PAYLOAD_TYPE.openSessionRequest);
    expect(toHex(encodeOpenSessionRequest(decodeOpenSessionRequest(openRequest)))).toBe(toHex(openRequest));
    const openResponse = payloadOf(PAYLOAD_TYPE.openSessionResponse);
    expect(decodeOpenSessionResponse(openResponse)).toMatchObject({ status: 0, authentication: 1, integrity: 1, confidentiality: 1 });
    expect(toHex(encodeOpenSessionResponse(decodeOpenSessionResponse(openResponse)))).toBe(toHex(openResponse));
    const rakp1 = payloadOf(PAYLOAD_TYPE.rakp1);
    expect(decodeRakp1(rakp1)).toMatchObject({ username: 'admin', role: 0x14 });
    expect(toHex(encodeRakp1(decodeRakp1(rakp1)))).toBe(toHex(rakp1));
    for (const type of [PAYLOAD_TYPE.rakp2]) expect(toHex(encodeRakp2(decodeRakp2(payloadOf(type))))).toBe(toHex(payloadOf(type)));
    for (const type of [PAYLOAD_TYPE.rakp3, PAYLOAD_TYPE.rakp4]) expect(toHex(encodeRakp3Or4(decodeRakp3Or4(payloadOf(type))))).toBe(toHex(payloadOf(type)));
    for (const { bytes } of rmcpPlus.filter((datagram) => (datagram.bytes[5]! & 0xc0) === 0)) {
      const packet = decodeRmcpPlus(bytes);
      expect(toHex(encodeRmcpPlus(packet))).toBe(toHex(bytes));
    }
  });

  it('reproduces ipmitool’s and ipmi_sim’s RAKP HMACs, then verifies, decrypts and re-encrypts every session packet', () => {
    const open = decodeOpenSessionResponse(payloadOf(PAYLOAD_TYPE.openSessionResponse));
    const rakp1 = decodeRakp1(payloadOf(PAYLOAD_TYPE.rakp1));
    const rakp2 = decodeRakp2(payloadOf(PAYLOAD_TYPE.rakp2));
    const context: RakpContext = {
      suite: cipherSuiteById(3)!, crypto: nodeCrypto, consoleSessionId: open.consoleSessionId, bmcSessionId: open.bmcSessionId,
      consoleRandom: rakp1.consoleRandom, bmcRandom: rakp2.bmcRandom, bmcGuid: rakp2.bmcGuid, role: rakp1.role, username: captures.username, password: captures.password,
    };
    expect(toHex(rakp2AuthCode(context))).toBe(toHex(rakp2.authCode));
    expect(toHex(rakp3AuthCode(context))).toBe(toHex(decodeRakp3Or4(payloadOf(PAYLOAD_TYPE.rakp3)).authCode));
    const sik = sessionIntegrityKey(context);
    expect(toHex(rakp4Icv(context, sik))).toBe(toHex(decodeRakp3Or4(payloadOf(PAYLOAD_TYPE.rakp4)).authCode));
    const { k1, k2 } = additionalKeys(context, sik);
    const security: RmcpPlusSecurity = { crypto: nodeCrypto, integrity: context.suite.integrity, confidentiality: context.suite.confidentiality, k1, k2 };
    const session = rmcpPlus.filter((datagram) => (datagram.bytes[5]! & 0xc0) === 0xc0);
    expect(session.length).toBeGreaterThan(4);
    const commands: number[] = [];
    for (const { bytes, direction } of session) {
      const packet = decodeRmcpPlus(bytes, security);
      expect(packet.sessionId).toBe(direction === 'to-bmc' ? open.bmcSessionId : open.consoleSessionId);
      const message = decodeIpmiMessage(packet.payload);
      expect(toHex(encodeIpmiMessage(message))).toBe(toHex(packet.payload));
      if (direction === 'to-client' && message.netFn === 0x01 && message.command === 0x01) expect(decodeChassisStatus(message.data.subarray(1)).powerOn).toBe(true);
      commands.push(message.command);
      // Same IV (the first 16 payload bytes) → the identical datagram, AuthCode included.
      expect(toHex(encodeRmcpPlus(packet, security, bytes.subarray(16, 32)))).toBe(toHex(bytes));
    }
    expect(commands).toContain(0x01);
    expect(commands).toContain(0x3c);
  });
});

describe('golden: ipmitool -I lan -A MD5 chassis power status', () => {
  const datagrams = bytesOf(captures.lan);

  it('decodes and re-encodes every datagram byte-exactly and verifies every MD5 AuthCode', () => {
    let authenticated = 0;
    for (const { bytes } of datagrams) {
      const kind = classifyDatagram(bytes);
      if (kind === 'asf') {
        expect(toHex(encodeAsf(decodeAsf(bytes)))).toBe(toHex(bytes));
        continue;
      }
      expect(kind).toBe('ipmi-v1.5');
      const packet = decodeV15(bytes);
      expect(toHex(encodeV15(packet))).toBe(toHex(bytes));
      const message = decodeIpmiMessage(packet.message);
      expect(toHex(encodeIpmiMessage(message))).toBe(toHex(packet.message));
      if (packet.authType === 2) {
        verifyV15AuthCode(nodeCrypto, 'md5', captures.password, packet);
        authenticated++;
      }
    }
    expect(authenticated).toBeGreaterThan(8);
  });

  it('reads ipmi_sim’s channel authentication capabilities', () => {
    const reply = datagrams.find(({ bytes, direction }) => direction === 'to-client' && classifyDatagram(bytes) === 'ipmi-v1.5')!;
    const message = decodeIpmiMessage(decodeV15(reply.bytes).message);
    expect(message.command).toBe(0x38);
    expect(decodeChannelAuthCapabilities(message.data.subarray(1))).toMatchObject({ authTypes: { md5: true, md2: true, straight: true, none: false } });
  });
});
