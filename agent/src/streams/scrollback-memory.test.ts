import { describe, expect, it } from 'vitest';
import { heldBytes } from '../testing/held-bytes.js';
import { ByteRing } from '@lightsout/shared';
import { ConsoleGroup } from './console-group.js';
import type { ConsolePort } from './ports/types.js';
import { Scrollback } from './scrollback.js';

/**
 * What a full scrollback really costs, measured on the process heap: SOL
 * delivers output a packet at a time (1 byte when someone types, about 45
 * bytes for a line), each packet a fresh buffer from the port.
 */
describe('Scrollback memory', () => {
  const capacity = 256 * 1024;
  const consoles = 8;

  for (const packetBytes of [1, 45]) {
    it(`holds at most the capacity plus a small constant with ${packetBytes}-byte packets`, () => {
      const before = heldBytes();
      const scrollbacks = Array.from({ length: consoles }, () => new Scrollback(capacity));
      // Twice the capacity: the oldest half has been evicted, the structure is full.
      for (let written = 0; written < 2 * capacity; written += packetBytes) {
        for (const scrollback of scrollbacks) scrollback.push(Buffer.alloc(packetBytes, written & 0xff));
      }
      const perConsole = (heldBytes() - before) / consoles;
      expect(perConsole).toBeLessThanOrEqual(capacity + 16 * 1024);
      for (const scrollback of scrollbacks) {
        expect(scrollback.size).toBe(capacity);
        expect(scrollback.allocatedBytes).toBeLessThanOrEqual(capacity);
      }
    });
  }

  it("holds a SOL console's output once: the hub's ring, not a second copy in the console group", () => {
    const before = heldBytes();
    const solConsoles = Array.from({ length: consoles }, (_, index) => {
      // The SOL hub's ring, as the port exposes it.
      const ring = new ByteRing({ maxBytes: capacity });
      const port: ConsolePort = { scrollback: () => ring.copyFrom(), write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => undefined };
      const group = new ConsoleGroup(`s${index}/sol`, port, () => undefined, { scrollbackBytes: capacity });
      group.join({ user: 'alice', subject: 'alice', requestedMode: 'control', attached: true, canTake: true, overflowed: false, deliver: () => undefined, sendStatus: () => undefined, end: () => undefined, holdInput: () => undefined });
      return { ring, group };
    });
    for (let written = 0; written < 2 * capacity; written += 45) {
      for (const { ring, group } of solConsoles) {
        const packet = Buffer.alloc(45, written & 0xff);
        ring.push(packet);
        group.output(packet);
      }
    }
    const perConsole = (heldBytes() - before) / consoles;
    expect(perConsole).toBeLessThanOrEqual(capacity + 16 * 1024);
    for (const { ring } of solConsoles) expect(ring.size).toBe(capacity);
  });
});
