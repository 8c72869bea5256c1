import { describe, expect, it } from 'vitest';
import { BmcHandshake } from './bmc-handshake.js';
import { vncAuthResponse } from './security/vnc-auth.js';

const hex = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('hex');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/ /g, ''), 'hex'));
const version = (minor: string): Uint8Array => new TextEncoder().encode(`RFB 003.${minor}\n`);
const challenge = bytes('00112233445566778899aabbccddeeff');

describe('BmcHandshake: the agent as an RFB client toward the BMC', () => {
  it('3.8 VNC auth, byte-exact on the wire', () => {
    const handshake = new BmcHandshake({ password: 'vncpass' });
    expect(hex(handshake.receive(version('008')).send)).toBe(Buffer.from('RFB 003.008\n').toString('hex'));
    expect(hex(handshake.receive(bytes('02 13 02')).send)).toBe('02');
    expect(hex(handshake.receive(challenge).send)).toBe(Buffer.from(vncAuthResponse('vncpass', challenge)).toString('hex'));
    const done = handshake.receive(bytes('00000000'));
    expect(done.result).toMatchObject({ version: '3.8', securityType: { type: 2 }, offeredSecurityTypes: [19, 2] });
    expect(handshake.stateName).toBe('done');
  });

  it('prefers None over VncAuth when both are offered', () => {
    const handshake = new BmcHandshake({ password: 'vncpass' });
    handshake.receive(version('008'));
    expect(hex(handshake.receive(bytes('02 02 01')).send)).toBe('01');
  });

  it('answers 3.889 (Apple) with 3.8 and 4.1 (RealVNC) with 3.8', () => {
    for (const banner of ['RFB 003.889\n', 'RFB 004.001\n']) {
      const step = new BmcHandshake({ password: undefined }).receive(new TextEncoder().encode(banner));
      expect(new TextDecoder().decode(step.send[0])).toBe('RFB 003.008\n');
    }
  });

  it('3.7 None: no SecurityResult expected, an OK is synthesised for the 3.8 client', () => {
    const handshake = new BmcHandshake({ password: undefined });
    handshake.receive(version('007'));
    const step = handshake.receive(bytes('01 01'));
    expect(hex(step.send)).toBe('01');
    expect(step.result).toMatchObject({ version: '3.7', securityResult: bytes('00000000') });
  });

  it('3.3 VNC auth: no choice byte, result without reason', () => {
    const handshake = new BmcHandshake({ password: 'pw' });
    expect(new TextDecoder().decode(handshake.receive(version('003')).send[0])).toBe('RFB 003.003\n');
    expect(handshake.receive(bytes('00000002')).send).toEqual([]);
    expect(hex(handshake.receive(challenge).send)).toBe(Buffer.from(vncAuthResponse('pw', challenge)).toString('hex'));
    expect(() => handshake.receive(bytes('00000001'))).toThrow(expect.objectContaining({ code: 'BMC_AUTH_FAILED', details: expect.objectContaining({ reason: undefined }) }));
    expect(handshake.stateName).toBe('failed');
    expect(() => handshake.receive(bytes('00'))).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });

  it('the whole 3.8 exchange in one chunk works the same as byte by byte', () => {
    const all = Uint8Array.from([...version('008'), 1, 1, 0, 0, 0, 0]);
    const together = new BmcHandshake({ password: undefined }).receive(all);
    expect(together.send.length).toBe(2);
    expect(together.result?.securityType.type).toBe(1);
    const single = new BmcHandshake({ password: undefined });
    const results = [...all].map((byte) => single.receive(Uint8Array.of(byte)).result);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.at(-1)?.securityType.type).toBe(1);
  });

  it('no password for VncAuth fails without sending the choice', () => {
    const handshake = new BmcHandshake({ password: undefined });
    handshake.receive(version('008'));
    expect(() => handshake.receive(bytes('01 02'))).toThrow(expect.objectContaining({ code: 'BMC_AUTH_FAILED' }));
  });

  it('status 2 (too many attempts) is reported as such on 3.7', () => {
    const handshake = new BmcHandshake({ password: 'pw' });
    handshake.receive(version('007'));
    handshake.receive(bytes('01 02'));
    handshake.receive(challenge);
    expect(() => handshake.receive(bytes('00000002'))).toThrow(/too many authentication attempts/);
  });
});
