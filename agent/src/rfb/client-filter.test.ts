import { encodeClientMessage, MAX_CUT_TEXT, MAX_ENCODINGS } from '@lightsout/bmc-wire/rfb';
import { describe, expect, it } from 'vitest';
import { RfbClientFilter } from './client-filter.js';

const hex = (pieces: Uint8Array[]): string => Buffer.concat(pieces).toString('hex');
const version = (minor: string): Buffer => Buffer.from(`RFB 003.00${minor}\n`);
const key = encodeClientMessage({ kind: 'key', down: true, keysym: 0x61 });
const pointer = encodeClientMessage({ kind: 'pointer', buttons: 1, x: 3, y: 4 });
const cut = encodeClientMessage({ kind: 'cut-text', text: new TextEncoder().encode('secret') });
const request = encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: 8, height: 8 });
const encodings = encodeClientMessage({ kind: 'set-encodings', encodings: [0, -223] });

describe('RfbClientFilter', () => {
  it('a 3.8 viewer: handshake as sent, ClientInit shared, update requests on, input dropped — the same fed a byte at a time', () => {
    const stream = Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(0), encodings, key, request, pointer, cut, request]);
    const expected = Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(1), encodings, request, request]).toString('hex');
    expect(hex(new RfbClientFilter().filter(stream, true))).toBe(expected);
    const filter = new RfbClientFilter();
    expect(hex([...stream].flatMap((byte) => filter.filter(Uint8Array.of(byte), true)))).toBe(expected);
  });

  it("a viewer's continuous updates and fences pass byte-exact; its desktop resize and QEMU key and audio messages are dropped — the same fed a byte at a time", () => {
    const continuous = Uint8Array.of(150, 1, 0, 0, 0, 0, 0, 8, 0, 8);
    const fence = Uint8Array.of(248, 0, 0, 0, 0x80, 0, 0, 3, 2, 0xab, 0xcd);
    const resize = Uint8Array.of(251, 0, 4, 0, 3, 0, 1, 0, ...new Uint8Array(16));
    const qemuKey = Uint8Array.of(255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e);
    const audioOn = Uint8Array.of(255, 1, 0, 0);
    const audioFormat = Uint8Array.of(255, 1, 0, 2, 3, 2, 0, 0, 0xac, 0x44);
    const stream = Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(0), continuous, resize, fence, qemuKey, audioOn, audioFormat, request]);
    const expected = Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(1), continuous, fence, request]).toString('hex');
    expect(hex(new RfbClientFilter().filter(stream, true))).toBe(expected);
    const filter = new RfbClientFilter();
    expect(hex([...stream].flatMap((byte) => filter.filter(Uint8Array.of(byte), true)))).toBe(expected);
  });

  it('a 3.3 client sends no security type: its second byte is ClientInit', () => {
    expect(hex(new RfbClientFilter().filter(Buffer.concat([version('3'), Uint8Array.of(0), request]), true))).toBe(Buffer.concat([version('3'), Uint8Array.of(1), request]).toString('hex'));
  });

  it("a controller's messages pass untouched, even ones the filter does not know (QEMU's 255)", () => {
    const qemuKey = Uint8Array.of(255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e);
    const stream = Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(0), key, qemuKey, pointer]);
    expect(hex(new RfbClientFilter().filter(stream, false))).toBe(Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(1), key, qemuKey, pointer]).toString('hex'));
  });

  it("skips a viewer's clipboard of the largest size as it arrives, holding none of it", () => {
    const filter = new RfbClientFilter();
    filter.filter(Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(1)]), true);
    const header = Buffer.from([6, 0, 0, 0, 0, 0, 0, 0]);
    header.writeUInt32BE(MAX_CUT_TEXT, 4);
    expect(filter.filter(header, true)).toEqual([]);
    expect(filter.filter(new Uint8Array(MAX_CUT_TEXT - 1), true)).toEqual([]);
    expect(hex(filter.filter(Buffer.concat([Uint8Array.of(0), request]), true))).toBe(Buffer.from(request).toString('hex'));
  });

  it("refuses a viewer's message it cannot delimit or that is over the caps, with typed errors", () => {
    const afterHandshake = () => {
      const filter = new RfbClientFilter();
      filter.filter(Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(1)]), true);
      return filter;
    };
    expect(() => afterHandshake().filter(Uint8Array.of(149, 1, 0, 0, 0, 0, 0, 8, 0, 8), true)).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
    expect(() => afterHandshake().filter(Uint8Array.of(255, 7, 0, 0), true)).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
    expect(() => afterHandshake().filter(Uint8Array.of(248, 0, 0, 0, 0, 0, 0, 0, 65), true)).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
    const tooMany = Buffer.from([2, 0, 0, 0]);
    tooMany.writeUInt16BE(MAX_ENCODINGS + 1, 2);
    expect(() => afterHandshake().filter(tooMany, true)).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
    const tooLong = Buffer.from([6, 0, 0, 0, 0, 0, 0, 0]);
    tooLong.writeUInt32BE(MAX_CUT_TEXT + 1, 4);
    expect(() => afterHandshake().filter(tooLong, true)).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    expect(() => new RfbClientFilter().filter(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), true)).toThrow(expect.objectContaining({ code: 'PROTOCOL_VERSION' }));
  });

  it('refuses a conversation that changes hands mid-stream', () => {
    const filter = new RfbClientFilter();
    filter.filter(Buffer.concat([version('8'), Uint8Array.of(1), Uint8Array.of(1), request]), false);
    expect(() => filter.filter(key, true)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
  });
});
