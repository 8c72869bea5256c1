import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LightsoutError } from '../errors.js';
import type { ServerRegistration } from '../schemas/server.js';
import { decodeAgentMessage, decodeRelayMessage, encodeControl } from './codec.js';
import { inventoryAckParts, inventoryParts } from './inventory-parts.js';
import type { InventoryAckMessage } from './messages.js';

function server(index: number, label = ''): ServerRegistration {
  const id = `srv-${index}`;
  return { id, name: `${id}.fra1 ü`, tenant: 'demo', rack: 'r1', endpoints: { ipmi: `10.0.${index >> 8}.${index & 255}:623` }, capabilities: ['power'], ...(label ? { labels: { note: label } } : {}) };
}

const byteLength = (text: string) => new TextEncoder().encode(text).length;

describe('inventoryParts', () => {
  it('sends a small inventory as one part without `more`, as a relay without parts expects', () => {
    const parts = inventoryParts([server(1), server(2)], 1 << 20);
    expect(parts).toEqual([{ v: 1, type: 'inventory', servers: [server(1), server(2)] }]);
  });

  it('keeps every part within the budget, every server once and in order, `more` on all but the last', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 300, unit: 'binary' }), { maxLength: 200 }), fc.integer({ min: 2048, max: 20_000 }), (labels, maxBytes) => {
        const servers = labels.map((label, index) => server(index, label));
        const parts = inventoryParts(servers, maxBytes);
        for (const part of parts) {
          const frame = encodeControl(part);
          expect(byteLength(frame)).toBeLessThanOrEqual(maxBytes);
          expect(decodeAgentMessage(frame, maxBytes)).toEqual(part);
        }
        expect(parts.flatMap((part) => part.servers)).toEqual(servers);
        expect(parts.slice(0, -1).every((part) => part.more === true && part.servers.length > 0)).toBe(true);
        expect(parts.at(-1)!.more).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a server that alone exceeds the frame limit, naming it', () => {
    let error: unknown;
    try {
      inventoryParts([server(1), server(2, 'x'.repeat(5000))], 4096);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LightsoutError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('srv-2') });
  });
});

describe('inventoryAckParts', () => {
  it('keeps every part within the budget and every entry once, in order; one part when it fits', () => {
    const small: InventoryAckMessage = { v: 1, type: 'inventory-ack', accepted: ['a'], rejected: [] };
    expect(inventoryAckParts(small, 1 << 20)).toEqual([small]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('accepted', 'rejected', 'assigned'), fc.string({ maxLength: 200 })), { maxLength: 300 }), fc.integer({ min: 1024, max: 8192 }), (entries, maxBytes) => {
        const ack: InventoryAckMessage = { v: 1, type: 'inventory-ack', accepted: [], rejected: [], assigned: [] };
        entries.forEach(([list, text], index) => {
          if (list === 'accepted') ack.accepted.push(`s-${index}`);
          else if (list === 'rejected') ack.rejected.push({ serverId: `s-${index}`, error: { code: 'NOT_FOUND', message: text } });
          else ack.assigned!.push({ serverId: `s-${index}`, tenant: 't' });
        });
        const parts = inventoryAckParts(ack, maxBytes);
        for (const part of parts) {
          const frame = encodeControl(part);
          expect(byteLength(frame)).toBeLessThanOrEqual(maxBytes);
          expect(decodeRelayMessage(frame, maxBytes)).toEqual(part);
        }
        expect(parts.flatMap((part) => part.accepted)).toEqual(ack.accepted);
        expect(parts.flatMap((part) => part.rejected)).toEqual(ack.rejected);
        expect(parts.flatMap((part) => part.assigned ?? [])).toEqual(ack.assigned);
      }),
      { numRuns: 100 },
    );
  });
});
