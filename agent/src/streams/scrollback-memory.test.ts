import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Scrollback } from './scrollback.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Heap and ArrayBuffer bytes the process holds after a full collection. */
function heldBytes(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

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
        for (const scrollback of scrollbacks) scrollback.append(Buffer.alloc(packetBytes, written & 0xff));
      }
      const perConsole = (heldBytes() - before) / consoles;
      expect(perConsole).toBeLessThanOrEqual(capacity + 16 * 1024);
      for (const scrollback of scrollbacks) {
        expect(scrollback.size).toBe(capacity);
        expect(scrollback.allocatedBytes).toBeLessThanOrEqual(capacity);
      }
    });
  }
});
