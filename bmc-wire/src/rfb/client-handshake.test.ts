import { describe, expect, it } from 'vitest';
import { ClientHandshake } from './client-handshake.js';

const hex = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('hex');
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('ClientHandshake: the agent as an RFB server offering None', () => {
  it('opens with RFB 003.008', () => {
    expect(new TextDecoder().decode(new ClientHandshake().opening())).toBe('RFB 003.008\n');
  });

  it('3.8 client: [1, None], choice 1, then the BMC SecurityResult verbatim', () => {
    const handshake = new ClientHandshake(Uint8Array.of(0, 0, 0, 0));
    const afterVersion = handshake.receive(ascii('RFB 003.008\n'));
    expect(hex(afterVersion.send)).toBe('0101');
    expect(afterVersion.done).toBeUndefined();
    const afterChoice = handshake.receive(Uint8Array.of(1));
    expect(hex(afterChoice.send)).toBe('00000000');
    expect(afterChoice.done).toEqual({ clientVersion: '3.8', leftover: new Uint8Array(0) });
  });

  it('3.7 client: no SecurityResult after None', () => {
    const handshake = new ClientHandshake();
    expect(hex(handshake.receive(ascii('RFB 003.007\n')).send)).toBe('0101');
    const step = handshake.receive(Uint8Array.of(1));
    expect(step.send).toEqual([]);
    expect(step.done?.clientVersion).toBe('3.7');
  });

  it('3.3 client (vncsnapshot): the server decides None as a u32, nothing else', () => {
    const step = new ClientHandshake().receive(ascii('RFB 003.003\n'));
    expect(hex(step.send)).toBe('00000001');
    expect(step.done?.clientVersion).toBe('3.3');
  });

  it('bytes the client sent early (choice + ClientInit in one chunk, byte by byte) are kept for the BMC', () => {
    const handshake = new ClientHandshake();
    const bytes = [...ascii('RFB 003.008\n'), 1, 1];
    const steps = bytes.slice(0, -1).map((byte) => handshake.receive(Uint8Array.of(byte)));
    expect(steps.slice(0, 11).every((step) => step.send.length === 0 && step.done === undefined)).toBe(true);
    expect(steps.at(-1)!.done).toBeDefined();
    const together = new ClientHandshake();
    together.receive(ascii('RFB 003.008\n'));
    expect(together.receive(Uint8Array.of(1, 1)).done?.leftover).toEqual(Uint8Array.of(1));
  });

  it('a client choosing a type we did not offer gets a 3.8 failure reason and a MALFORMED_MESSAGE', () => {
    const handshake = new ClientHandshake();
    handshake.receive(ascii('RFB 003.008\n'));
    const step = handshake.receive(Uint8Array.of(2));
    expect(step.failure).toMatchObject({ code: 'MALFORMED_MESSAGE' });
    expect(Buffer.concat(step.send).subarray(0, 4).toString('hex')).toBe('00000001');
    expect(Buffer.concat(step.send).subarray(8).toString()).toBe('security type 2 was not offered');
  });

  it('a client sending garbage is PROTOCOL_VERSION (not a BMC error)', () => {
    expect(() => new ClientHandshake().receive(ascii('GET / HTTP/1.1\r\n'))).toThrow(expect.objectContaining({ code: 'PROTOCOL_VERSION' }));
  });
});
