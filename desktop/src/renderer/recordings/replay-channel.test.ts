import { describe, expect, it } from 'vitest';
import { ReplayChannel } from './replay-channel.js';
import { parseRfbCapture } from './rfb-capture.js';

// Node 22 has WebSocket, Event and MessageEvent globals; CloseEvent is polyfilled if missing.
globalThis.CloseEvent ??= class extends Event {
  code: number;
  constructor(type: string, init: { code?: number } = {}) {
    super(type);
    this.code = init.code ?? 0;
  }
} as unknown as typeof CloseEvent;

function capture(records: [number, number[]][]): Uint8Array {
  const bytes: number[] = [];
  for (const [timeMs, data] of records) bytes.push(0, 0, (timeMs >>> 8) & 0xff, timeMs & 0xff, 0, 0, 0, data.length, ...data);
  return Uint8Array.from(bytes);
}

describe('ReplayChannel', () => {
  it('hands noVNC the recorded server bytes up to the playback time, each record once, and drops what noVNC sends', () => {
    const channel = new ReplayChannel(parseRfbCapture(capture([[0, [82, 70, 66]], [100, [1]], [100, [2, 3]], [900, [4]]])));
    const received: number[][] = [];
    let opened = 0;
    channel.onopen = () => void (opened += 1);
    channel.onmessage = (event) => void received.push([...new Uint8Array(event.data)]);
    channel.deliverUpTo(1000);
    expect(received).toEqual([]);
    channel.open();
    expect(opened).toBe(1);
    channel.deliverUpTo(50);
    channel.send();
    channel.deliverUpTo(100);
    channel.deliverUpTo(100);
    expect(received).toEqual([[82, 70, 66], [1], [2, 3]]);
    channel.deliverUpTo(10_000);
    expect(received.at(-1)).toEqual([4]);
    expect(channel.delivered).toBe(4);
    channel.close();
    channel.deliverUpTo(20_000);
    expect(received).toHaveLength(4);
  });
});
