import { describe, expect, it } from 'vitest';
import { isAgentControl } from './splice.js';

/** A status as an agent sends it to every viewer of a console (large enough to be remembered). */
function status(controller: string, viewers: number): Buffer {
  const members = Array.from({ length: viewers }, (_, index) => ({ user: `viewer-${String(index).padStart(3, '0')}`, mode: 'view', attached: true }));
  return Buffer.from(JSON.stringify({ type: 'status', mode: 'view', controller, members }));
}

describe('isAgentControl', () => {
  it('accepts a status, and the same text again from another frame', () => {
    const first = status('alice', 12);
    expect(first.length).toBeGreaterThan(512);
    expect(isAgentControl(first)).toBe(true);
    expect(isAgentControl(Buffer.from(first))).toBe(true);
  });

  it('still checks every text that differs from the one it remembers, however alike', () => {
    const good = status('alice', 12);
    expect(isAgentControl(good)).toBe(true);
    // same length, one byte changed: the type is no longer one the agent may send
    const retyped = Buffer.from(good.toString().replace('"type":"status"', '"type":"statuz"'));
    expect(retyped.length).toBe(good.length);
    expect(isAgentControl(retyped)).toBe(false);
    // a member in a mode that does not exist
    expect(isAgentControl(Buffer.from(good.toString().replace('"user":"viewer-003","mode":"view"', '"user":"viewer-003","mode":"root"')))).toBe(false);
    expect(isAgentControl(Buffer.from('{"type":"status"'))).toBe(false);
    expect(isAgentControl(Buffer.from('not json at all'))).toBe(false);
    // and the remembered one still passes afterwards
    expect(isAgentControl(Buffer.from(good))).toBe(true);
  });

  it('accepts small control messages (acks) without remembering them', () => {
    expect(isAgentControl(Buffer.from('{"type":"ack","offset":42}'))).toBe(true);
    expect(isAgentControl(Buffer.from('{"type":"ack","offset":-1}'))).toBe(false);
  });
});
