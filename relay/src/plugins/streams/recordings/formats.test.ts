import { describe, expect, it } from 'vitest';
import { toAsciicast } from './formats.js';
import type { RecordingMeta } from './storage.js';

const meta: RecordingMeta = { id: 'r'.repeat(22), sessionId: 's', serverId: 'sim-01', tenant: 'demo', kind: 'sol', user: 'olga', subject: 'olga', startedAt: 1_000 };

describe('toAsciicast', () => {
  it('refuses with PAYLOAD_TOO_LARGE, instead of an untyped RangeError past what a string holds, a text longer than the limit (a control byte is six characters)', () => {
    const controlBytes = Buffer.alloc(1000, 1);
    const text = toAsciicast(meta, controlBytes, [[0, 1_000]]);
    expect(text.length).toBeGreaterThan(6000);
    let refusal: unknown;
    try {
      toAsciicast(meta, controlBytes, [[0, 1_000]], text.length - 1);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(toAsciicast(meta, controlBytes, [[0, 1_000]], text.length)).toBe(text);
  });
});
