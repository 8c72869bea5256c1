import { describe, expect, it } from 'vitest';
import type { ConsoleStream } from './console-stream.js';
import { StreamChannel } from './novnc-channel.js';

// Node 22 has WebSocket, Event and MessageEvent globals; CloseEvent is polyfilled if missing.
globalThis.CloseEvent ??= class extends Event {
  code: number;
  reason: string;
  wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
} as unknown as typeof CloseEvent;

function channelWithStream() {
  const written: Uint8Array[] = [];
  const stream = { write: (bytes: Uint8Array) => (written.push(bytes), true), dispose: () => {} } as unknown as ConsoleStream;
  const channel = new StreamChannel();
  channel.attach(stream);
  return { channel, written };
}

describe('StreamChannel (noVNC raw channel over a console stream)', () => {
  it('keeps bytes that arrive before open and hands them over, in order, right after onopen', () => {
    const { channel } = channelWithStream();
    const events: string[] = [];
    channel.onopen = () => events.push('open');
    channel.onmessage = (event) => events.push(new TextDecoder().decode(event.data));
    channel.deliver(new TextEncoder().encode('RFB 003.008\n'));
    expect(events).toEqual([]);
    channel.opened();
    channel.deliver(new TextEncoder().encode('more'));
    expect(events).toEqual(['open', 'RFB 003.008\n', 'more']);
  });

  it('gives noVNC an ArrayBuffer of exactly the delivered bytes, even for a view into a larger buffer', () => {
    const { channel } = channelWithStream();
    const received: ArrayBuffer[] = [];
    channel.onmessage = (event) => received.push(event.data);
    channel.opened();
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    channel.deliver(backing.subarray(2, 5));
    expect([...new Uint8Array(received[0]!)]).toEqual([1, 2, 3]);
  });

  it('copies what noVNC sends, since noVNC reuses its send buffer', () => {
    const { channel, written } = channelWithStream();
    const buffer = new Uint8Array([1, 2, 3]);
    channel.send(buffer);
    buffer[0] = 99;
    expect([...written[0]!]).toEqual([1, 2, 3]);
  });

  it('reports close once and drops later data', () => {
    const { channel } = channelWithStream();
    const closes: number[] = [];
    channel.onclose = (event) => closes.push(event.code);
    channel.onmessage = () => closes.push(-1);
    channel.opened();
    channel.closed(4410, 'ended');
    channel.closed(1000, 'again');
    channel.deliver(new Uint8Array([1]));
    expect(closes).toEqual([4410]);
    expect(channel.readyState).toBe(WebSocket.CLOSED);
  });
});
