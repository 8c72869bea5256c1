import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSolPacket, encodeSolPacket, nextSolSequence } from './sol-packet.js';
import { decodesOrRefuses, reasonOfThrow } from '../testing/index.js';
import { toHex } from './bytes.js';

describe('SOL packet (§15.9)', () => {
  it('lays out seq, ack, accepted count, control and data', () => {
    expect(toHex(encodeSolPacket({ sequence: 1, ackSequence: 3, acceptedCount: 5, control: 0x10, data: Uint8Array.of(0x41, 0x0d) }))).toBe('01030510410d');
  });

  it('round-trips and wraps sequence numbers 1..15, never 0', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 255 }), (sequence, ackSequence, acceptedCount, control, data) => {
      const packet = { sequence, ackSequence, acceptedCount, control, data };
      expect(decodeSolPacket(encodeSolPacket(packet))).toEqual(packet);
    }));
    expect(nextSolSequence(15)).toBe(1);
    expect(nextSolSequence(0)).toBe(1);
    expect(nextSolSequence(7)).toBe(8);
  });

  it('refuses short and oversize packets', () => {
    expect(reasonOfThrow(() => decodeSolPacket(Uint8Array.of(1, 2, 3)))).toBe('TRUNCATED');
    expect(reasonOfThrow(() => decodeSolPacket(new Uint8Array(4 + 256)))).toBe('TOO_LONG');
    expect(reasonOfThrow(() => encodeSolPacket({ sequence: 16, ackSequence: 0, acceptedCount: 0, control: 0, data: new Uint8Array() }))).toBe('BAD_FIELD');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => decodesOrRefuses(decodeSolPacket, bytes)));
  });
});
