import { describe, expect, it } from 'vitest';
import { StreamClient, type StreamSocketEvents } from './client.js';
import { encodeStreamMessage } from './messages.js';

/** One fake socket per leg: what the client sent on it, and a handle to play the relay. */
function harness(refuseInputWhileDown: boolean) {
  const legs: { sent: (string | Uint8Array)[]; events: StreamSocketEvents }[] = [];
  const refused: number[] = [];
  const paths: boolean[] = [];
  const timers: (() => void)[] = [];
  const client = new StreamClient({
    streamUrl: 'ws://relay.test/v1/streams/x',
    token: 't',
    socket: (_url, _protocols, events) => {
      const leg = { sent: [] as (string | Uint8Array)[], events };
      legs.push(leg);
      return { send: (data) => leg.sent.push(data), close: () => undefined };
    },
    setTimer: (callback) => {
      timers.push(callback);
      return () => undefined;
    },
    onData: () => undefined,
    refuseInputWhileDown,
    onInputRefused: (bytes) => refused.push(bytes),
    onPath: (up) => paths.push(up),
  });
  /** The leg opens and the agent says how much of our input it holds. */
  const stream = (agentHolds = 0, leg = legs.at(-1)!) => {
    leg.events.open();
    leg.events.message(encodeStreamMessage({ type: 'resume', offset: agentHolds }));
  };
  const binary = (leg = legs.at(-1)!) => leg.sent.filter((data): data is Uint8Array => typeof data !== 'string');
  return { client, legs, refused, paths, timers, stream, binary };
}

const keys = (text: string) => new TextEncoder().encode(text);

describe('StreamClient input while the path to the BMC is down', () => {
  it('refuses input (never queues it) while reconnecting and while the relay says the path is down', () => {
    const { client, legs, refused, paths, timers, stream, binary } = harness(true);
    client.write(keys('early'));
    expect(refused).toEqual([5]);
    stream();
    client.write(keys('ls\r'));
    expect(binary().map((chunk) => new TextDecoder().decode(chunk))).toEqual(['ls\r']);

    legs[0]!.events.message(encodeStreamMessage({ type: 'path', state: 'down' }));
    expect(client.inputPathUp).toBe(false);
    client.write(keys('frozen\r'));
    expect(refused).toEqual([5, 7]);
    legs[0]!.events.message(encodeStreamMessage({ type: 'dropped', bytes: 4 }));
    expect(refused).toEqual([5, 7, 4]);

    // The leg drops: typing during the reconnect is refused too, and nothing typed while down is sent after the resume.
    legs[0]!.events.close(4000, 'agent connection dropped');
    client.write(keys('while-reconnecting\r'));
    expect(refused).toEqual([5, 7, 4, 19]);
    timers.shift()!();
    stream(3);
    expect(binary()).toEqual([]);
    expect(paths).toEqual([false, true]);
    client.write(keys('after\r'));
    expect(binary().map((chunk) => new TextDecoder().decode(chunk))).toEqual(['after\r']);
    expect(client.bytesSent).toBe(3 + 6);
  });

  it('without refuseInputWhileDown (bulk transfers), bytes written while reconnecting go out after the resume', () => {
    const { client, legs, refused, timers, stream, binary } = harness(false);
    stream();
    legs[0]!.events.close(4000, 'agent connection dropped');
    client.write(keys('queued'));
    timers.shift()!();
    stream();
    expect(refused).toEqual([]);
    expect(binary().map((chunk) => new TextDecoder().decode(chunk))).toEqual(['queued']);
  });
});

describe('StreamClient.leave (~.)', () => {
  function leaving() {
    const closes: number[] = [];
    const legs: StreamSocketEvents[] = [];
    const sent: string[] = [];
    const client = new StreamClient({
      streamUrl: 'ws://relay.test/v1/streams/x',
      token: 't',
      socket: (_url, _protocols, events) => {
        legs.push(events);
        return { send: (data) => void (typeof data === 'string' && sent.push(data)), close: (code) => closes.push(code ?? 1005) };
      },
      setTimer: () => () => undefined,
      onData: () => undefined,
    });
    return { client, closes, legs, sent };
  }

  it('closes with 1000 and resolves only when the close handshake is done', async () => {
    const { client, closes, legs } = leaving();
    legs[0]!.open();
    legs[0]!.message(encodeStreamMessage({ type: 'resume', offset: 0 }));
    let left = false;
    const leave = client.leave().then(() => (left = true));
    expect(closes).toEqual([1000]);
    await Promise.resolve();
    expect(left).toBe(false);
    legs[0]!.close(1000, 'left by user');
    await leave;
    expect(client.state).toBe('closed');
  });

  it('before the socket opened: waits for it, then closes with 1000 instead of resuming', async () => {
    const { client, closes, legs, sent } = leaving();
    const leave = client.leave();
    expect(closes).toEqual([]);
    legs[0]!.open();
    expect(closes).toEqual([1000]);
    expect(sent).toEqual([]);
    legs[0]!.close(1000, '');
    await leave;
    expect(client.state).toBe('closed');
  });
});
