import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PreAuthGate } from './pre-auth-gate.js';

/** What the gate reads of a TCP connection: its peer, its close, and being destroyed. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

let nextPort = 40_000;
/** A gate whose grace timers never fire (these tests are about the counts), and the addresses it dropped. */
function gate(perAddress: number, total = 1000) {
  const dropped: string[] = [];
  const preAuth = new PreAuthGate({ loginGraceMs: 30_000, perAddress, total }, () => () => undefined, (address) => dropped.push(address));
  const connect = (address: string) => {
    const socket = new FakeSocket(address, (nextPort += 1));
    return { socket, admitted: preAuth.admit(socket as unknown as Socket) };
  };
  return { preAuth, dropped, connect };
}

describe('PreAuthGate: what counts as one address', () => {
  it('counts every address of one IPv6 /64 together (RFC 6177: one subscriber holds a /64)', () => {
    const { preAuth, dropped, connect } = gate(2);
    expect(connect('2001:db8:1:2::1').admitted).toBe(true);
    expect(connect('2001:db8:1:2:aaaa:bbbb:cccc:dddd').admitted).toBe(true);
    // A third address of the same /64: over its limit, however it is spelled.
    const third = connect('2001:0db8:0001:0002:0:0:0:3');
    expect(third.admitted).toBe(false);
    expect(third.socket.destroyed).toBe(true);
    expect(dropped, 'the log names the address that connected').toEqual(['2001:0db8:0001:0002:0:0:0:3']);
    // The neighbouring /64 is another subscriber.
    expect(connect('2001:db8:1:3::1').admitted).toBe(true);
    expect(preAuth.unauthenticated).toBe(3);
  });

  it('frees the /64 place when one of its connections closes or authenticates', () => {
    const { preAuth, connect } = gate(2);
    const first = connect('2001:db8::10');
    const second = connect('2001:db8::20');
    expect(connect('2001:db8::30').admitted).toBe(false);
    first.socket.emit('close');
    expect(connect('2001:db8::30').admitted).toBe(true);
    preAuth.authenticated('2001:db8::20', second.socket.remotePort);
    expect(preAuth.unauthenticated).toBe(1);
    expect(connect('2001:db8::40').admitted).toBe(true);
    expect(connect('2001:db8::50').admitted).toBe(false);
  });

  it('counts an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address, and every IPv4 address apart', () => {
    const { connect } = gate(1);
    expect(connect('192.0.2.7').admitted).toBe(true);
    // The same client seen by a dual-stack listener.
    expect(connect('::ffff:192.0.2.7').admitted).toBe(false);
    // Other IPv4 clients do not share a /64 of the mapped range ::ffff:0:0/96.
    expect(connect('::ffff:192.0.2.8').admitted).toBe(true);
    expect(connect('::ffff:198.51.100.1').admitted).toBe(true);
  });
});
