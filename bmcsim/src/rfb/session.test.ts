import { describe, expect, it } from 'vitest';
import { ManualClock } from '../host/clock.js';
import { Host } from '../host/host.js';
import { encodePixelFormat } from '@lightsout/bmc-wire/rfb';
import { NATIVE_PIXEL_FORMAT } from './render.js';
import { FRAMEBUFFER_WIDTH } from './render.js';
import { RfbServerSession } from './session.js';

// The session state machine driven byte by byte with no socket: version and
// security negotiation, keyboard input reaching the host, and incremental
// updates that wait for the screen to change.

function harness(password?: string) {
  const clock = new ManualClock();
  const host = new Host({ hostname: 'kvm-01', clock, timings: { postMs: 1, bootMs: 1 } });
  host.powerOn();
  clock.advance(5);
  const written: Uint8Array[] = [];
  let closed = false;
  const session = new RfbServerSession({ write: (bytes) => written.push(bytes), close: () => (closed = true) }, { host, password, desktopName: 'kvm-01' });
  const take = () => Buffer.concat(written.splice(0));
  return { host, session, take, isClosed: () => closed };
}

const key = (keysym: number, down = true) => Uint8Array.of(4, down ? 1 : 0, 0, 0, keysym >>> 24, (keysym >> 16) & 0xff, (keysym >> 8) & 0xff, keysym & 0xff);

describe('RfbServerSession', () => {
  it('negotiates 3.8/None, types keys into the host shell and sends only changed rows', async () => {
    const { host, session, take } = harness();
    expect(take().toString('latin1')).toBe('RFB 003.008\n');
    session.receive(Buffer.from('RFB 003.008\n'));
    expect([...take()]).toEqual([1, 1]);
    session.receive(Uint8Array.of(1));
    expect([...take()]).toEqual([0, 0, 0, 0]);
    session.receive(Uint8Array.of(1)); // ClientInit
    expect(take().subarray(0, 4)).toEqual(Buffer.from([0x02, 0x80, 0x01, 0x90])); // 640 x 400
    const setPixelFormat = new Uint8Array(20);
    setPixelFormat.set(encodePixelFormat(NATIVE_PIXEL_FORMAT), 4);
    session.receive(setPixelFormat);
    session.receive(Uint8Array.of(3, 0, 0, 0, 0, 0, 0x02, 0x80, 0x01, 0x90)); // full update
    const full = take();
    expect(full.readUInt16BE(2)).toBe(1); // one rectangle: every row is new to this client
    expect(full.length).toBe(4 + 12 + 640 * 400 * 4);
    session.receive(Uint8Array.of(3, 1, 0, 0, 0, 0, 0x02, 0x80, 0x01, 0x90)); // incremental: nothing changed yet
    expect(take().length).toBe(0);
    for (const character of 'root') session.receive(Buffer.concat([key(character.charCodeAt(0)), key(character.charCodeAt(0), false)]));
    session.receive(key(0xff0d));
    await Promise.resolve(); // updates are coalesced in a microtask
    const update = take();
    expect(update.readUInt16BE(2)).toBeGreaterThanOrEqual(1);
    const firstRectangleY = update.readUInt16BE(6);
    const firstRectangleWidth = update.readUInt16BE(8);
    expect(firstRectangleWidth).toBe(FRAMEBUFFER_WIDTH);
    expect(firstRectangleY % 16).toBe(0);
    expect(host.screen.text(), host.screen.text()).toContain('root@kvm-01:~#');
  });

  it('3.3 clients get the server-chosen type as a u32 and a bare failure status', () => {
    const { host, session, take } = harness('secret');
    take();
    session.receive(Buffer.from('RFB 003.003\n'));
    const offer = take();
    expect([...offer.subarray(0, 4)]).toEqual([0, 0, 0, 2]); // VNC authentication chosen by the server
    expect(offer.length).toBe(4 + 16); // then the 16-byte challenge
    session.receive(new Uint8Array(16)); // wrong response
    expect([...take()]).toEqual([0, 0, 0, 1]); // 3.3: failure without a reason string
    expect(session.closed).toBe(true);
    void host;
  });

  it('closes on an unknown message type', () => {
    const { session, take, isClosed } = harness();
    take();
    session.receive(Buffer.from('RFB 003.008\n'));
    session.receive(Uint8Array.of(1, 1));
    session.receive(Uint8Array.of(99));
    expect(isClosed()).toBe(true);
    expect(session.failure).toMatch(/unknown RFB client message type 99/);
  });
});
