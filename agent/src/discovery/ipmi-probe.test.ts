import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  classifyDatagram, decodeAsf, decodeIpmiMessage, decodeV15, encodeAsf, encodeChannelAuthCapabilities, encodeIpmiMessage, encodeSystemGuid, encodeV15, responseMessage,
} from '@lightsout/bmc-wire/ipmi';
import { IpmiScanSocket } from './ipmi-probe.js';
import { ProbePacer } from './pacer.js';

/**
 * The IPMI probe against a scripted BMC on loopback: which datagrams it sends, byte for byte and in which
 * rounds, and what it makes of the answers. (The /24 scan against bmcsim and ipmi_sim is
 * bench/test/discovery-scan.test.ts.)
 */

// Get Channel Authentication Capabilities, v1.5 framing, session 0 (IPMI v2.0 §22.13, §13.6): channel 0x0e
// ("this one") with bit 7 asking for the v2.0 extended data, administrator, rqSeq 1, 2 and 3 shifted into bits 7:2.
const EXTENDED_CAPS = '0600ff07' + '00' + '00000000' + '00000000' + '09' + '2018c8' + '81' + '04' + '38' + '8e04' + 'b1';
const PLAIN_CAPS = '0600ff07' + '00' + '00000000' + '00000000' + '09' + '2018c8' + '81' + '08' + '38' + '0e04' + '2d';
// Get System GUID (§22.14), no request data.
const SYSTEM_GUID = '0600ff07' + '00' + '00000000' + '00000000' + '07' + '2018c8' + '81' + '0c' + '37' + '3c';
// ASF presence ping (DMTF ASF 2.0 §3.2.4.2): RMCP class ASF, IANA 4542, type 0x80, tag 0x4c, no data.
const ASF_PING = '0600ff06' + '000011be' + '80' + '4c' + '00' + '00';

const GUID = '1c0ffee0-0000-4000-8000-00000000abcd';

interface ScriptedBmc {
  /** Answers the ASF presence ping. */
  asf: boolean;
  /** How Get Channel Auth Caps with the v2.0 bit is met: answered, refused as a v1.5-only BMC does (0xCC), or dropped. */
  extended: 'answer' | 'refuse' | 'drop';
  /** Answers nothing at all. */
  silent?: boolean;
}

const sockets: Socket[] = [];
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
});

/** A BMC on 127.0.0.1 that answers as scripted and keeps every datagram it got, as hex, with the round it came in. */
async function scriptedBmc(script: ScriptedBmc): Promise<{ port: number; received: string[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const received: string[] = [];
  socket.on('message', (datagram, remote) => {
    received.push(datagram.toString('hex'));
    if (script.silent === true) return;
    const bytes = new Uint8Array(datagram);
    const reply = (answer: Uint8Array) => socket.send(answer, remote.port, remote.address);
    if (classifyDatagram(bytes) === 'asf') {
      const ping = decodeAsf(bytes);
      if (script.asf && ping.kind === 'ping') reply(encodeAsf({ kind: 'pong', tag: ping.tag, ipmiSupported: true }));
      return;
    }
    const request = decodeIpmiMessage(decodeV15(bytes).message);
    const answer = (completionCode: number, data?: Uint8Array) =>
      reply(encodeV15({ authType: 0, sequence: 0, sessionId: 0, authCode: undefined, message: encodeIpmiMessage(responseMessage(request, completionCode, data)) }));
    if (request.command === 0x37) return answer(0, encodeSystemGuid(GUID));
    const extended = (request.data[0]! & 0x80) !== 0;
    if (extended && script.extended === 'drop') return;
    if (extended && script.extended === 'refuse') return answer(0xcc);
    const caps = { channel: 1, authTypes: { none: false, md2: false, md5: true, straight: true, oem: false }, kgSet: false, perMessageAuthDisabled: false, userLevelAuthDisabled: false, nonNullUsers: true, nullUsers: false, anonymousLogin: false, ipmi20: extended, ipmi15: true };
    answer(0, encodeChannelAuthCapabilities(caps, extended));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, received };
}

// Long enough for a loaded CI machine to answer from this process; only the silent cases spend it.
async function probe(address: string, port: number, timeoutMs = 1_000) {
  const sent: string[] = [];
  const scanner = await IpmiScanSocket.open({ port, pacer: new ProbePacer(1000), timeoutMs, retries: 1, onSend: (to) => sent.push(to) });
  const finding = await scanner.probe(address);
  await scanner.close();
  return { finding, sent };
}

describe('IPMI discovery probe', () => {
  it('asks Get Channel Auth Capabilities alone first, then Get System GUID and the ASF ping only where IPMI answered', async () => {
    const bmc = await scriptedBmc({ asf: true, extended: 'answer' });
    const { finding } = await probe('127.0.0.1', bmc.port);
    expect(finding).toEqual({ port: bmc.port, asf: true, ipmi15: true, ipmi20: true, authTypes: ['md5', 'straight'], guid: GUID });
    expect(bmc.received[0]).toBe(EXTENDED_CAPS);
    expect(bmc.received.slice(1).sort()).toEqual([ASF_PING, SYSTEM_GUID].sort());
  });

  it('finds a BMC that does not answer the ASF ping, and says so', async () => {
    const bmc = await scriptedBmc({ asf: false, extended: 'answer' });
    const { finding } = await probe('127.0.0.1', bmc.port);
    expect(finding).toEqual({ port: bmc.port, asf: false, ipmi15: true, ipmi20: true, authTypes: ['md5', 'straight'], guid: GUID });
    // The ping is not repeated: a BMC with ASF off would only cost the wait again.
    expect(bmc.received.filter((datagram) => datagram === ASF_PING)).toHaveLength(1);
  });

  it('asks a v1.5-only BMC again without the v2.0 bit, in the same round as the GUID', async () => {
    const bmc = await scriptedBmc({ asf: true, extended: 'refuse' });
    const { finding } = await probe('127.0.0.1', bmc.port);
    expect(finding).toEqual({ port: bmc.port, asf: true, ipmi15: true, ipmi20: false, authTypes: ['md5', 'straight'], guid: GUID });
    expect(bmc.received[0]).toBe(EXTENDED_CAPS);
    expect(bmc.received.slice(1).sort()).toEqual([ASF_PING, PLAIN_CAPS, SYSTEM_GUID].sort());
  });

  it('sends an address that answers nothing the capabilities request and its one resend, nothing else', async () => {
    const bmc = await scriptedBmc({ asf: true, extended: 'answer', silent: true });
    const { finding, sent } = await probe('127.0.0.1', bmc.port, 100);
    expect(finding).toBeUndefined();
    expect(bmc.received).toEqual([EXTENDED_CAPS, EXTENDED_CAPS]);
    expect(sent).toHaveLength(2);
  });

  it('does not count an ASF-only device (a pong but no IPMI) as a BMC', async () => {
    const bmc = await scriptedBmc({ asf: true, extended: 'drop' });
    const { finding } = await probe('127.0.0.1', bmc.port, 100);
    expect(finding).toBeUndefined();
    expect(bmc.received).toEqual([EXTENDED_CAPS, EXTENDED_CAPS]);
  });

  it('stops at one datagram where the host answers port unreachable', async () => {
    const bmc = await scriptedBmc({ asf: true, extended: 'answer' });
    // 127.0.0.2 is this host too, but nothing listens there: the kernel answers ICMP port unreachable.
    const started = performance.now();
    const { finding, sent } = await probe('127.0.0.2', bmc.port, 5_000);
    expect(finding).toBeUndefined();
    expect(sent).toEqual(['127.0.0.2']);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(bmc.received).toEqual([]);
  });
});
