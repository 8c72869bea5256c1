import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeSolPacket, encodeSolPacket, type SolPacket } from '@lightsout/bmc-wire/ipmi';
import { ManualClock } from '../host/clock.js';
import { Host } from '../host/host.js';
import { SolPayload } from './sol.js';

// SOL flow control (IPMI v2.0 §15.9) with a scripted console: ACKs, partial
// ACKs, NACKs, retransmits and duplicate inbound packets. Retransmit timers use
// vitest's fake timers, so nothing waits on the wall clock.

let host: Host;
let sent: SolPacket[];
let sol: SolPayload;
let typed: string;

beforeEach(() => {
  vi.useFakeTimers();
  const clock = new ManualClock();
  host = new Host({ hostname: 'sol-01', clock, timings: { postMs: 1, bootMs: 1 } });
  host.powerOn();
  clock.advance(5);
  typed = '';
  host.type = (bytes) => void (typed += Buffer.from(bytes).toString('latin1'));
  sent = [];
  sol = new SolPayload({ host, maxData: 8, retryMs: 500, maxRetries: 2 });
  expect(sol.activate({ sessionId: 7, send: (payload) => sent.push(decodeSolPacket(payload)) })).toBe(true);
});
afterEach(() => {
  sol.dispose();
  vi.useRealTimers();
});

const fromConsole = (packet: Partial<SolPacket>) => sol.receive(encodeSolPacket({ sequence: 0, ackSequence: 0, acceptedCount: 0, control: 0, data: new Uint8Array(), ...packet }));
const text = (packet: SolPacket | undefined) => Buffer.from(packet?.data ?? []).toString('latin1');

describe('SolPayload', () => {
  it('refuses a second owner (0x80 already active) until deactivated', () => {
    expect(sol.activate({ sessionId: 8, send: () => undefined })).toBe(false);
    expect(sol.ownerSessionId).toBe(7);
    expect(sol.deactivate()).toBe(true);
    expect(sent.at(-1)).toMatchObject({ control: 0x10 }); // "SOL deactivating" to the old owner
    expect(sol.deactivate()).toBe(false);
  });

  it('keeps one packet in flight, retransmits it with the same sequence, and resends the rest after a partial ACK', () => {
    host.writeConsole(Buffer.from('ABCDEFGHIJKL'));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ sequence: 1, ackSequence: 0 });
    expect(text(sent[0])).toBe('ABCDEFGH');
    vi.advanceTimersByTime(500);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.sequence).toBe(1); // retransmit: same SOL sequence
    expect(text(sent[1])).toBe('ABCDEFGH');
    fromConsole({ ackSequence: 1, acceptedCount: 5 }); // partial ACK: 5 of 8
    expect(sent).toHaveLength(3);
    expect(sent[2]!.sequence).toBe(2);
    expect(text(sent[2])).toBe('FGHIJKL'); // the rest first, under the next sequence
    fromConsole({ ackSequence: 2, acceptedCount: 7 });
    expect(sent).toHaveLength(3);
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(3); // nothing in flight, no timer fires
  });

  it('holds a NACKed packet and gives up after maxRetries', () => {
    host.writeConsole(Buffer.from('xyz'));
    fromConsole({ ackSequence: 1, acceptedCount: 0, control: 0x40 }); // NACK: console busy
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(500);
    vi.advanceTimersByTime(500);
    expect(sent.map((packet) => packet.sequence)).toEqual([1, 1, 1]);
    vi.advanceTimersByTime(500); // third timeout > maxRetries 2: dropped
    host.writeConsole(Buffer.from('next'));
    expect(sent.at(-1)).toMatchObject({ sequence: 2 });
    expect(text(sent.at(-1))).toBe('next');
  });

  it('ACKs every console packet, delivers a retransmit once and only its appended tail', () => {
    fromConsole({ sequence: 3, data: Buffer.from('ls') });
    expect(typed).toBe('ls');
    expect(sent.at(-1)).toMatchObject({ sequence: 0, ackSequence: 3, acceptedCount: 2 });
    fromConsole({ sequence: 3, data: Buffer.from('ls') }); // our ACK was lost: same packet again
    expect(typed).toBe('ls');
    expect(sent.at(-1)).toMatchObject({ ackSequence: 3, acceptedCount: 2 });
    fromConsole({ sequence: 3, data: Buffer.from('ls -l') }); // retransmit with bytes appended
    expect(typed).toBe('ls -l');
    expect(sent.at(-1)).toMatchObject({ ackSequence: 3, acceptedCount: 5 });
    fromConsole({ sequence: 4, data: Buffer.from('\r') });
    expect(typed).toBe('ls -l\r');
  });
});
