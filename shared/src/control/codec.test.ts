import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LightsoutError } from '../errors.js';
import { decodeAgentMessage, decodeRelayMessage, encodeControl } from './codec.js';
import { CONTROL_PROTOCOL_VERSION, type InventoryMessage } from './messages.js';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof LightsoutError) return error.code;
    throw error;
  }
  return 'no error';
}

const inventory: InventoryMessage = {
  v: CONTROL_PROTOCOL_VERSION,
  type: 'inventory',
  servers: [
    {
      id: 'web-01',
      name: 'web-01.fra1',
      tenant: 'demo',
      rack: 'r12',
      endpoints: { ipmi: '10.0.0.5:623', vnc: 'vnc://10.0.0.5:5900' },
      capabilities: ['power', 'sol', 'vnc'],
    },
  ],
};

describe('control codec', () => {
  it('round-trips a valid inventory', () => {
    expect(decodeAgentMessage(encodeControl(inventory))).toEqual(inventory);
  });

  it('refuses a frame over the size cap before parsing it', () => {
    const big = JSON.stringify({ v: 1, type: 'heartbeat', seq: 1, pad: 'x'.repeat(2048) });
    expect(codeOf(() => decodeAgentMessage(big, 1024))).toBe('FRAME_TOO_LARGE');
  });

  it('refuses another protocol version with PROTOCOL_VERSION', () => {
    expect(codeOf(() => decodeAgentMessage('{"v":2,"type":"heartbeat","seq":1}'))).toBe('PROTOCOL_VERSION');
  });

  it('refuses non-JSON, non-objects, unknown types and bad fields with MALFORMED_MESSAGE', () => {
    for (const frame of ['not json', '[1,2]', 'null', '{"v":1,"type":"nope"}', '{"v":1,"type":"heartbeat","seq":-1}']) {
      expect(codeOf(() => decodeAgentMessage(frame)), frame).toBe('MALFORMED_MESSAGE');
    }
  });

  it('refuses server ids that are not slugs (path traversal, upper case)', () => {
    for (const id of ['../etc', 'Web01', '', 'a/b']) {
      const frame = encodeControl({ ...inventory, servers: [{ ...inventory.servers[0]!, id }] });
      expect(codeOf(() => decodeAgentMessage(frame)), id).toBe('MALFORMED_MESSAGE');
    }
  });

  it('never throws anything but a LightsoutError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (frame) => {
        for (const decode of [decodeAgentMessage, decodeRelayMessage]) {
          try {
            decode(frame);
          } catch (error) {
            expect(error).toBeInstanceOf(LightsoutError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
