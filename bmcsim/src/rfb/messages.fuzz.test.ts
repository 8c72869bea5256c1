import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { parseClientMessage, parseProtocolVersion } from './messages.js';

// Hostile input: any byte string either parses, asks for more, or throws a
// LightsoutError, never anything else; and a message that parses from N bytes
// asks for more from every shorter prefix.

const outcome = (bytes: Uint8Array) => {
  try {
    return parseClientMessage(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(LightsoutError);
    return 'error' as const;
  }
};

describe('RFB client message parser under hostile input', () => {
  it('never throws anything but LightsoutError, and prefixes of a message need more bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 2, 3, 4, 5, 6, 7, 255), fc.uint8Array({ maxLength: 64 }), (type, rest) => {
        const bytes = Uint8Array.of(type, ...rest);
        const result = outcome(bytes);
        if (result !== 'error' && result.kind === 'message') {
          for (let length = 0; length < result.length; length++) {
            const prefix = outcome(bytes.subarray(0, length));
            expect(prefix === 'error' ? 'error' : prefix.kind).toBe('need-more');
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every non-RFB greeting of 12 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (bytes) => {
        try {
          const result = parseProtocolVersion(bytes);
          expect(new TextDecoder('latin1').decode(bytes)).toMatch(/^RFB \d{3}\.\d{3}\n$/);
          expect(result.kind).toBe('version');
        } catch (error) {
          expect(error).toBeInstanceOf(LightsoutError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
