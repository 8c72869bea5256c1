import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SOL_OPERATION, SOL_STATUS, type SolPacket } from '@lightsout/bmc-wire/ipmi';
import { LightsoutError } from '@lightsout/shared';
import { openIpmiSession } from '../session/connect.js';
import type { RmcpPlusSession } from '../session/rmcp-plus-session.js';
import { SuiteCache } from '../session/suite-cache.js';
import { startScriptedBmc, type ScriptedBmc, type ScriptedBmcOptions } from '../../testing/ipmi-scripted-bmc.js';
import { SolHub, type SolHubEvent } from './sol-hub.js';
import { SOL_INPUT_HIGH_WATER_BYTES, SolSession, type SolEndReason } from './sol-session.js';
import { waitFor } from '@lightsout/lab/wait';

// SOL behaviours ipmi_sim never shows (it neither sends partial ACKs nor
// appends on retransmit), driven by the scripted BMC over real UDP.
const credentials = { username: 'admin', password: 'adminpass' };
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function solAgainst(onSol: (packet: SolPacket, send: (packet: SolPacket) => void) => void, more: { inputDrained?: () => void } = {}) {
  const peer: ScriptedBmc = await startScriptedBmc({ ...credentials, onSol });
  cleanup.push(() => peer.close());
  const session = await openIpmiSession({ host: '127.0.0.1', port: peer.port, ...credentials, suiteCache: new SuiteCache(), cipherSuites: [17] });
  cleanup.push(() => session.close());
  const received: Uint8Array[] = [];
  const ended: Array<{ reason: SolEndReason; detail: string }> = [];
  const events = { data: (bytes: Uint8Array) => received.push(bytes.slice()), end: (reason: SolEndReason, detail: string) => ended.push({ reason, detail }), status: () => undefined, ...more };
  const sol = await SolSession.activate(session as RmcpPlusSession, events, { timing: { retransmitBaseMs: 50, holdRetryMs: 20 } });
  cleanup.push(() => sol.close());
  return { sol, received, ended, output: () => Buffer.concat(received) };
}

const until = (condition: () => boolean, what: string) => waitFor(what, condition, { timeoutMs: 5000, intervalMs: 10 });

describe('SolSession against a scripted BMC (suite 17)', () => {
  it('resends the unaccepted remainder after partial ACKs, in order, under new sequence numbers', async () => {
    const atBmc: number[] = [];
    const sequences: number[] = [];
    let last = { sequence: 0, accepted: 0 };
    const { sol } = await solAgainst((packet, send) => {
      if (packet.sequence === 0) return;
      // A retransmit of the packet just ACKed (our ACK was late): ACK it again, take nothing twice.
      if (packet.sequence !== last.sequence) {
        sequences.push(packet.sequence);
        const accepted = Math.max(1, packet.data.length >> 1); // take half of every packet
        atBmc.push(...packet.data.subarray(0, accepted));
        last = { sequence: packet.sequence, accepted };
      }
      send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: last.accepted, control: 0, data: new Uint8Array() });
    });
    const input = randomBytes(200);
    sol.write(input);
    await until(() => atBmc.length === input.length && sol.counters.sent === input.length, 'all bytes accepted and acknowledged');
    expect(Buffer.from(atBmc).equals(input)).toBe(true);
    for (let index = 1; index < sequences.length; index++) expect(sequences[index]).not.toBe(sequences[index - 1]);
    expect(sol.counters.sent).toBe(input.length);
  });

  it('says "wait" past 64 KiB of input the BMC has not taken, and that it may go on once the BMC has caught up; every byte arrives once, in order', async () => {
    const atBmc: number[] = [];
    let lastSequence = 0;
    const drained: number[] = [];
    const { sol } = await solAgainst(
      (packet, send) => {
        if (packet.sequence === 0) return;
        if (packet.sequence !== lastSequence) atBmc.push(...packet.data);
        lastSequence = packet.sequence;
        send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: packet.data.length, control: 0, data: new Uint8Array() });
      },
      { inputDrained: () => drained.push(sol.backlog) },
    );
    expect(sol.write(randomBytes(16))).toBe(true);
    const paste = randomBytes(SOL_INPUT_HIGH_WATER_BYTES + 36 * 1024);
    expect(sol.write(paste)).toBe(false);
    expect(sol.write(Buffer.from('!'))).toBe(false);
    await until(() => drained.length === 1, 'told to go on');
    expect(drained[0]!).toBeLessThan(SOL_INPUT_HIGH_WATER_BYTES);
    await until(() => atBmc.length === 16 + paste.length + 1, 'every byte at the BMC');
    expect(Buffer.from(atBmc.slice(16, 16 + paste.length)).equals(paste)).toBe(true);
    expect(String.fromCharCode(atBmc.at(-1)!)).toBe('!');
    expect(drained).toHaveLength(1);
    expect(sol.write(Buffer.from('?'))).toBe(true);
  });

  it('takes an ACK of our packet with accepted count 0 and no NACK as a full acknowledgement (Intel), sending each byte once', async () => {
    const atBmc: number[] = [];
    const { sol } = await solAgainst((packet, send) => {
      if (packet.sequence === 0) return;
      atBmc.push(...packet.data);
      // Intel BMCs acknowledge a packet they took whole with accepted count 0 (ipmitool's intelplus case).
      send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: 0, control: 0, data: new Uint8Array() });
    });
    sol.write(Buffer.from('a'));
    await until(() => atBmc.length >= 1 && sol.backlog === 0, 'the first byte acknowledged');
    sol.write(Buffer.from('b'));
    await until(() => atBmc.includes(0x62) && sol.backlog === 0, 'the second byte acknowledged');
    expect(Buffer.from(atBmc).toString()).toBe('ab');
    expect(sol.counters).toMatchObject({ sent: 2, retransmits: 0 });
  });

  it('ends SOL with retransmits-exhausted when the BMC keeps refusing the same bytes (NACK, nothing accepted)', async () => {
    let refusals = 0;
    const peer = await startScriptedBmc({
      ...credentials,
      onSol: (packet, send) => {
        if (packet.sequence === 0) return;
        refusals++;
        send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: 0, control: SOL_STATUS.nack | SOL_STATUS.transferUnavailable, data: new Uint8Array() });
      },
    });
    cleanup.push(() => peer.close());
    const session = await openIpmiSession({ host: '127.0.0.1', port: peer.port, ...credentials, suiteCache: new SuiteCache(), cipherSuites: [17] });
    cleanup.push(() => session.close());
    const ended: SolEndReason[] = [];
    const sol = await SolSession.activate(session as RmcpPlusSession, { data: () => undefined, end: (reason) => ended.push(reason) }, { timing: { retransmitBaseMs: 50, holdRetryMs: 5, maxHolds: 4 } });
    cleanup.push(() => sol.close());
    sol.write(Buffer.from('x'));
    await until(() => ended.length > 0, 'SOL to end');
    expect(ended).toEqual(['retransmits-exhausted']);
    // The first send and four resends after a hold, then no more.
    expect(refusals).toBe(5);
  });

  it('delivers only the appended bytes of a BMC retransmit, and ACKs the whole packet', async () => {
    const acks: SolPacket[] = [];
    let firstAckSeen = false;
    const bytes = (text: string) => Buffer.from(text);
    const { sol, output } = await solAgainst((packet, send) => {
      if (packet.sequence !== 0) {
        // The console spoke: ACK it, then start sending output.
        send({ sequence: 1, ackSequence: packet.sequence, acceptedCount: packet.data.length, control: 0, data: bytes('abc') });
        return;
      }
      acks.push(packet);
      if (packet.ackSequence === 1 && !firstAckSeen) {
        firstAckSeen = true;
        // Pretend that ACK was lost: retransmit packet 1 with bytes appended since.
        send({ sequence: 1, ackSequence: 0, acceptedCount: 0, control: 0, data: bytes('abcdef') });
      } else if (packet.ackSequence === 1) {
        send({ sequence: 2, ackSequence: 0, acceptedCount: 0, control: 0, data: bytes('g') });
      }
    });
    sol.write(bytes('x'));
    await until(() => output().length >= 7, 'output arrived');
    expect(output().toString()).toBe('abcdefg');
    expect(acks.filter((ack) => ack.ackSequence === 1).map((ack) => ack.acceptedCount)).toEqual([3, 6]);
  });

  it('holds after a NACK with "transfer unavailable", retries, and sends a break only after earlier bytes are ACKed', async () => {
    const atBmc: number[] = [];
    let nacks = 0;
    const order: string[] = [];
    let lastSequence = 0;
    const { sol } = await solAgainst((packet, send) => {
      if (packet.sequence === 0) return;
      if (packet.sequence === lastSequence) {
        send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: packet.data.length, control: 0, data: new Uint8Array() });
        return;
      }
      if (packet.control & SOL_OPERATION.generateBreak) {
        order.push('break');
      } else if (nacks < 2) {
        nacks++;
        send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: 0, control: SOL_STATUS.nack | SOL_STATUS.transferUnavailable, data: new Uint8Array() });
        return;
      } else {
        atBmc.push(...packet.data);
        order.push('data');
      }
      lastSequence = packet.sequence;
      send({ sequence: 0, ackSequence: packet.sequence, acceptedCount: packet.data.length, control: 0, data: new Uint8Array() });
    });
    sol.write(Buffer.from('reboot\r'));
    sol.sendBreak();
    await until(() => order.includes('break'), 'break arrived');
    expect(Buffer.from(atBmc).toString()).toBe('reboot\r');
    expect(nacks).toBe(2);
    expect(order).toEqual(['data', 'break']);
  });
});

describe('SolHub gives back the SOL it activated', () => {
  it('sends Deactivate Payload before Close Session when SOL ends on our side (nothing acknowledged), so the BMC does not keep it active', async () => {
    const commands: string[] = [];
    const peer = await startScriptedBmc({
      ...credentials,
      onSol: () => undefined, // takes the bytes and never acknowledges them
      onCommand: (netFn, command) => commands.push(`${netFn.toString(16)}:${command.toString(16)}`),
    });
    cleanup.push(() => peer.close());
    const hub = new SolHub({ openSession: () => openIpmiSession({ host: '127.0.0.1', port: peer.port, ...credentials, suiteCache: new SuiteCache(), cipherSuites: [17] }), timing: { retransmitBaseMs: 20, maxRetransmits: 2 } });
    cleanup.push(() => hub.close());
    const events: SolHubEvent[] = [];
    const viewer = await hub.attach('viewer', { mode: 'control' }, { onData: () => undefined, onEvent: (event) => events.push(event) });
    const activated = commands.indexOf('6:48');
    expect(activated).toBeGreaterThanOrEqual(0);
    viewer.write(Buffer.from('typed into a BMC that never answers'));
    await until(() => events.some((event) => event.type === 'ended'), 'SOL to end');
    expect(events.find((event) => event.type === 'ended')).toMatchObject({ reason: 'retransmits-exhausted' });
    await until(() => commands.includes('6:3c'), 'the session to close');
    // Deactivate Payload (App 0x49) after the activation and before Close Session (App 0x3C), IPMI v2.0 §24.2
    const deactivated = commands.indexOf('6:49');
    expect(deactivated).toBeGreaterThan(activated);
    expect(deactivated).toBeLessThan(commands.indexOf('6:3c'));
  });
});

/** Activates SOL once against a scripted BMC and reports the outcome, the aux bytes it saw and the App commands after login. */
async function activateAgainst(bmc: Partial<ScriptedBmcOptions>, suite: number, options: { auxiliary?: number; ignorePort?: boolean } = {}) {
  const auxiliaries: number[] = [];
  const commands: number[] = [];
  const peer = await startScriptedBmc({ ...credentials, suites: [suite], ...bmc, onActivatePayload: (auxiliary) => auxiliaries.push(auxiliary), onCommand: (netFn, command) => netFn === 0x06 && commands.push(command) });
  cleanup.push(() => peer.close());
  const session = (await openIpmiSession({ host: '127.0.0.1', port: peer.port, ...credentials, suiteCache: new SuiteCache(), cipherSuites: [suite] })) as RmcpPlusSession;
  cleanup.push(() => session.close());
  const events = { data: () => undefined, end: () => undefined };
  const outcome = await SolSession.activate(session, events, options).then(async (sol) => {
    await sol.close();
    return 'activated' as const;
  }, (error: unknown) => error);
  return { outcome, auxiliaries, commands, port: peer.port };
}

describe('Activate Payload asks for SOL exactly as protected as the session (§24.1 request byte 3)', () => {
  // Bit 7 encryption, bit 6 authentication; bits 5:0 are SOL behaviour (0x08: serial alerts succeed while SOL is active).
  it.each([
    [17, 0xc0],
    [3, 0xc0],
    [2, 0x40],
  ])('suite %i: protection bits %i (0xC0 encrypted and authenticated, 0x40 authenticated), the activatePayloadAux behaviour bits under them', async (suite, protection) => {
    expect(await activateAgainst({}, suite)).toMatchObject({ outcome: 'activated', auxiliaries: [protection] });
    expect(await activateAgainst({}, suite, { auxiliary: 0x08 })).toMatchObject({ outcome: 'activated', auxiliaries: [protection | 0x08] });
    // Protection bits passed in as behaviour do not override the session's.
    expect(await activateAgainst({}, suite, { auxiliary: 0x08 | (~protection & 0xc0) })).toMatchObject({ auxiliaries: [protection | 0x08] });
  });

  it('refuses SOL the BMC cannot encrypt (0x83) on an encrypted session, instead of asking again for it in clear', async () => {
    const { outcome, auxiliaries } = await activateAgainst({ requireAux: 0x40 }, 17);
    expect(outcome).toMatchObject({ code: 'BMC_UNSUPPORTED', details: { reason: 'SOL_ENCRYPTION_REFUSED', completionCode: 0x83 } });
    expect(auxiliaries).toEqual([0xc0]);
  });
});

describe('the SOL port Activate Payload names (§24.1 response bytes 9–10)', () => {
  it('refuses SOL on another port than the session\'s, gives the payload back, and says which ports', async () => {
    const { outcome, commands, port } = await activateAgainst({ solPort: () => 6999 }, 17);
    expect(outcome).toBeInstanceOf(LightsoutError);
    expect(outcome).toMatchObject({ code: 'BMC_UNSUPPORTED', details: { reason: 'SOL_PORT_DIFFERS', solPort: 6999, sessionPort: port } });
    expect((outcome as LightsoutError).message).toContain('UDP port 6999');
    // Deactivate Payload (App 0x49) after the activation (0x48).
    expect(commands.slice(commands.indexOf(0x48))).toEqual([0x48, 0x49]);
  });

  it('streams SOL on the session\'s port when the BMC names that port, it byte-swapped, or 623 behind a forward; or when told to ignore it', async () => {
    const { outcome, port } = await activateAgainst({}, 17);
    expect(outcome).toBe('activated');
    expect(port).not.toBe(623);
    // Byte-swapped (Supermicro X8DTH; ipmitool and FreeIPMI take it as meant).
    expect((await activateAgainst({ solPort: (own) => ((own & 0xff) << 8) | (own >> 8) }, 17)).outcome).toBe('activated');
    // A port forward: the BMC names its own standard port, which the session reaches at another one.
    expect((await activateAgainst({ solPort: () => 623 }, 17)).outcome).toBe('activated');
    expect((await activateAgainst({ solPort: () => 0x6f02 }, 17)).outcome).toBe('activated');
    expect((await activateAgainst({ solPort: () => 6999 }, 17, { ignorePort: true })).outcome).toBe('activated');
  });
});
