import { describe, expect, it } from 'vitest';
import { rmcpPlusOffer } from './auth-caps.js';

// Get Channel Authentication Capabilities response data after the completion code (§22.13):
// | channel | auth types (bit 7 = extended data) | status | extended capabilities (bit 1 v2.0, bit 0 v1.5) | OEM (4) |
const answer = (authTypes: number, connections: number) => Uint8Array.of(0x01, authTypes, 0x04, connections, 0, 0, 0, 0);

describe('rmcpPlusOffer', () => {
  it.each([
    [0x84, 0x02, true, 'offered'],
    [0x84, 0x03, true, 'offered'],
    [0x84, 0x01, true, 'absent'],
    [0x04, 0x00, true, 'absent'],
    [0x04, 0x00, false, 'absent'],
    [0x84, 0x00, true, 'unclear'],
    [0x04, 0x02, true, 'unclear'],
    // Byte 4 is reserved without bit 7: in an answer to the plain (v1.5) request form it says nothing.
    [0x04, 0x02, false, 'absent'],
  ] as const)('auth types byte %i, extended capabilities byte %i, asked for extended data: %s → %s', (authTypes, connections, askedExtended, expected) => {
    expect(rmcpPlusOffer(answer(authTypes, connections), askedExtended)).toBe(expected);
  });
});
