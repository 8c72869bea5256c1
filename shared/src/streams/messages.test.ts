import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LightsoutError } from '../errors.js';
import { decodeAgentBoundStreamMessage, decodeAgentStreamMessage, decodeClientStreamMessage, decodeServerStreamMessage, encodeStreamMessage } from './messages.js';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof LightsoutError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('stream control messages', () => {
  it('round-trips what a client may send', () => {
    for (const message of [
      { type: 'resume', offset: 0 },
      { type: 'ack', offset: 123_456_789 },
      { type: 'resize', cols: 80, rows: 24 },
      { type: 'break' },
      { type: 'take-over' },
    ] as const) {
      expect(decodeClientStreamMessage(encodeStreamMessage(message))).toEqual(message);
    }
  });

  it('refuses a client sending agent-only or relay-only messages', () => {
    const status = { type: 'status', mode: 'control', controller: 'a', members: [] };
    expect(decodeAgentStreamMessage(JSON.stringify(status))).toEqual(status);
    expect(codeOf(() => decodeClientStreamMessage(JSON.stringify(status)))).toBe('MALFORMED_MESSAGE');
    expect(codeOf(() => decodeClientStreamMessage('{"type":"token","token":"x","expiresAt":1}'))).toBe('MALFORMED_MESSAGE');
    expect(codeOf(() => decodeAgentStreamMessage('{"type":"token","token":"x","expiresAt":1}'))).toBe('MALFORMED_MESSAGE');
    expect(decodeServerStreamMessage('{"type":"token","token":"x","expiresAt":1}').type).toBe('token');
  });

  it('path and dropped: only the relay says path; a client cannot claim its own input was dropped', () => {
    expect(decodeServerStreamMessage('{"type":"path","state":"down"}')).toEqual({ type: 'path', state: 'down' });
    expect(decodeServerStreamMessage('{"type":"dropped","bytes":3}')).toEqual({ type: 'dropped', bytes: 3 });
    expect(decodeAgentBoundStreamMessage('{"type":"dropped","bytes":3}')).toEqual({ type: 'dropped', bytes: 3 });
    expect(decodeAgentBoundStreamMessage('{"type":"ack","offset":3}')).toEqual({ type: 'ack', offset: 3 });
    expect(decodeAgentStreamMessage('{"type":"dropped","bytes":3}')).toEqual({ type: 'dropped', bytes: 3 });
    expect(codeOf(() => decodeClientStreamMessage('{"type":"dropped","bytes":3}'))).toBe('MALFORMED_MESSAGE');
    expect(codeOf(() => decodeClientStreamMessage('{"type":"path","state":"up"}'))).toBe('MALFORMED_MESSAGE');
    expect(codeOf(() => decodeAgentStreamMessage('{"type":"path","state":"up"}'))).toBe('MALFORMED_MESSAGE');
    expect(codeOf(() => decodeAgentBoundStreamMessage('{"type":"dropped","bytes":0}'))).toBe('MALFORMED_MESSAGE');
    expect(codeOf(() => decodeServerStreamMessage('{"type":"path","state":"sideways"}'))).toBe('MALFORMED_MESSAGE');
  });

  it('refuses garbage: negative or fractional offsets, extra fields, non-JSON, oversize', () => {
    for (const frame of ['{"type":"ack","offset":-1}', '{"type":"ack","offset":1.5}', '{"type":"break","x":1}', 'nope', '[]', 'null', '{"type":"resize","cols":0,"rows":1}']) {
      expect(codeOf(() => decodeClientStreamMessage(frame)), frame).toBe('MALFORMED_MESSAGE');
    }
    expect(codeOf(() => decodeClientStreamMessage(`{"type":"break","pad":"${'x'.repeat(5000)}"}`))).toBe('FRAME_TOO_LARGE');
  });

  it('refuses a type whose value is an object with a non-callable toString with a typed error', () => {
    for (const decode of [decodeClientStreamMessage, decodeAgentStreamMessage, decodeServerStreamMessage]) {
      expect(codeOf(() => decode('{"type":{"toString":0}}'))).toBe('MALFORMED_MESSAGE');
      expect(codeOf(() => decode('{"type":{"toString":0,"valueOf":0}}'))).toBe('MALFORMED_MESSAGE');
    }
  });

  it('refuses nesting deeper than the wire allows before validating', () => {
    const deep = '{"type":"status","mode":"view","controller":null,"members":' + '['.repeat(1500) + ']'.repeat(1500) + '}';
    expect(codeOf(() => decodeAgentStreamMessage(deep))).toBe('MALFORMED_MESSAGE');
    expect(() => decodeAgentStreamMessage(deep)).toThrow(/nested deeper than/);
  });

  it('never throws anything but a LightsoutError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (frame) => {
        for (const decode of [decodeClientStreamMessage, decodeAgentStreamMessage, decodeServerStreamMessage]) {
          try {
            decode(frame);
          } catch (error) {
            expect(error).toBeInstanceOf(LightsoutError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
