import { describe, expect, it } from 'vitest';
import { StreamClient, type StreamSocketEvents, routeLocator } from './client.js';
import { encodeStreamMessage } from './messages.js';
import { StreamCloseCode, StreamLimits, StreamTiming } from './session.js';

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

  it('before the socket opened, which then fails: ends there, never connecting again', async () => {
    const { client, legs } = leaving();
    const leave = client.leave();
    legs[0]!.close(1006, 'connect ECONNREFUSED');
    await leave;
    expect(client.state).toBe('closed');
    expect(legs).toHaveLength(1);
  });
});

describe('StreamClient following its session to another gateway (locate)', () => {
  function following(locate: (token: string) => Promise<string | undefined>) {
    const urls: string[] = [];
    const protocols: string[][] = [];
    const legs: { sent: (string | Uint8Array)[]; events: StreamSocketEvents }[] = [];
    const timers: { callback: () => void; ms: number; cancelled: boolean }[] = [];
    const received: string[] = [];
    const client = new StreamClient({
      streamUrl: 'ws://gateway-a.test/v1/streams/x',
      token: 'connect-token',
      socket: (url, offered, events) => {
        urls.push(url);
        protocols.push(offered);
        const leg = { sent: [] as (string | Uint8Array)[], events };
        legs.push(leg);
        return { send: (data) => leg.sent.push(data), close: () => undefined };
      },
      setTimer: (callback, ms) => {
        const timer = { callback, ms, cancelled: false };
        timers.push(timer);
        return () => void (timer.cancelled = true);
      },
      onData: (bytes) => received.push(new TextDecoder().decode(bytes)),
      locate,
    });
    /** Run the next live timer (the reconnect wait). */
    const fire = () => {
      const timer = timers.find((candidate) => !candidate.cancelled && candidate.ms !== StreamTiming.locateTimeoutMs && candidate.ms !== StreamLimits.ackIdleMs);
      timer!.cancelled = true;
      timer!.callback();
    };
    return { client, urls, protocols, legs, timers, received, fire };
  }
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  it('asks where the agent is with the latest resume token and resumes there, replaying exactly what the new gateway lacks', async () => {
    const asked: string[] = [];
    const { client, urls, protocols, legs, received, fire } = following(async (token) => {
      asked.push(token);
      return 'ws://gateway-b.test/v1/streams/x';
    });
    legs[0]!.events.open();
    legs[0]!.events.message(encodeStreamMessage({ type: 'token', token: 'resume-token', expiresAt: 1_900_000_000 }));
    legs[0]!.events.message(encodeStreamMessage({ type: 'resume', offset: 0 }));
    legs[0]!.events.message(keys('hello '));
    client.write(keys('abc'));
    // Gateway A is killed: the socket drops without a close frame.
    legs[0]!.events.close(1006, '');
    client.write(keys('def'));
    fire();
    await flush();
    expect(asked).toEqual(['resume-token']);
    expect(urls).toEqual(['ws://gateway-a.test/v1/streams/x', 'ws://gateway-b.test/v1/streams/x']);
    expect(protocols[1]).toContain('bearer.resume-token');
    expect(client.streamUrl).toBe('ws://gateway-b.test/v1/streams/x');
    legs[1]!.events.open();
    // The client tells the new leg it holds 6 bytes; the agent holds 2 of ours: 'c' and 'def' are replayed.
    expect(legs[1]!.sent[0]).toBe(encodeStreamMessage({ type: 'resume', offset: 6 }));
    legs[1]!.events.message(encodeStreamMessage({ type: 'resume', offset: 2 }));
    expect(legs[1]!.sent.slice(1).map((data) => (typeof data === 'string' ? data : new TextDecoder().decode(data))).join('')).toBe('cdef');
    legs[1]!.events.message(keys('world'));
    expect(received.join('')).toBe('hello world');
    expect(client.state).toBe('streaming');
  });

  it('a route that fails, answers nothing or hangs: the next leg goes to the URL it had, within locateTimeoutMs', async () => {
    let answer: () => Promise<string | undefined> = () => Promise.reject(new Error('ECONNREFUSED'));
    const { urls, legs, timers, fire } = following(() => answer());
    legs[0]!.events.close(1006, '');
    fire();
    await flush();
    expect(urls).toEqual(['ws://gateway-a.test/v1/streams/x', 'ws://gateway-a.test/v1/streams/x']);

    answer = async () => undefined;
    legs[1]!.events.close(1006, '');
    fire();
    await flush();
    expect(urls.length).toBe(3);

    answer = () => new Promise(() => undefined);
    legs[2]!.events.close(1006, '');
    fire();
    await flush();
    expect(urls.length).toBe(3);
    const deadline = timers.find((timer) => timer.ms === StreamTiming.locateTimeoutMs && !timer.cancelled)!;
    deadline.callback();
    expect(urls).toEqual(Array(4).fill('ws://gateway-a.test/v1/streams/x'));
  });

  it('a slow route is asked once: the next attempt waits for the question already out, and a late answer is where the next leg goes', async () => {
    // Under load a replica may take longer than locateTimeoutMs to answer. Asking again on every attempt would
    // pile questions onto it (each abandoned one still costs it its work) until none is answered in time.
    const answers: Array<(url: string | undefined) => void> = [];
    const { urls, legs, timers, fire } = following(() => new Promise((resolve) => answers.push(resolve)));
    legs[0]!.events.close(1006, '');
    fire();
    await flush();
    expect(answers.length).toBe(1);
    // No answer in time: this attempt goes where it was (gateway A, dead), and fails.
    timers.find((timer) => timer.ms === StreamTiming.locateTimeoutMs && !timer.cancelled)!.callback();
    expect(urls).toEqual(['ws://gateway-a.test/v1/streams/x', 'ws://gateway-a.test/v1/streams/x']);
    legs[1]!.events.close(1006, '');
    fire();
    await flush();
    // The next attempt does not ask again: the first question is still out.
    expect(answers.length).toBe(1);
    expect(urls.length).toBe(2);
    answers[0]!('ws://gateway-b.test/v1/streams/x');
    await flush();
    expect(urls).toEqual(['ws://gateway-a.test/v1/streams/x', 'ws://gateway-a.test/v1/streams/x', 'ws://gateway-b.test/v1/streams/x']);
  });

  it('an answer that arrives after its attempt gave up is kept for the next attempt', async () => {
    const answers: Array<(url: string | undefined) => void> = [];
    const { urls, legs, timers, fire } = following(() => new Promise((resolve) => answers.push(resolve)));
    legs[0]!.events.close(1006, '');
    fire();
    await flush();
    timers.find((timer) => timer.ms === StreamTiming.locateTimeoutMs && !timer.cancelled)!.callback();
    answers[0]!('ws://gateway-b.test/v1/streams/x');
    await flush();
    expect(urls.length).toBe(2);
    legs[1]!.events.close(1006, '');
    fire();
    await flush();
    // The late answer came after the failed leg was opened: the next leg goes to B at once, without asking again.
    expect(answers.length).toBe(1);
    expect(urls.at(-1)).toBe('ws://gateway-b.test/v1/streams/x');
  });

  it('closed while locating: no leg is opened afterwards', async () => {
    let answer: (url: string) => void = () => undefined;
    const { client, urls, legs, fire } = following(() => new Promise((resolve) => (answer = resolve)));
    legs[0]!.events.close(1006, '');
    fire();
    client.close();
    answer('ws://gateway-b.test/v1/streams/x');
    await flush();
    expect(urls.length).toBe(1);
    expect(client.state).toBe('closed');
  });
});

describe('routeLocator', () => {
  const fetchAnswering = (status: number, body: unknown, seen: { url?: string; auth?: string } = {}) =>
    (async (url: string, init: { headers: Record<string, string> }) => {
      seen.url = url;
      seen.auth = init.headers['authorization'];
      return { status, json: async () => body };
    }) as const;

  it('asks the route URL with the stream token and returns a ws(s) URL', async () => {
    const seen: { url?: string; auth?: string } = {};
    const locate = routeLocator('http://manager.test/v1/streams/x/route', fetchAnswering(200, { streamUrl: 'wss://gw-b.test/v1/streams/x' }, seen));
    expect(await locate('tok')).toBe('wss://gw-b.test/v1/streams/x');
    expect(seen).toEqual({ url: 'http://manager.test/v1/streams/x/route', auth: 'Bearer tok' });
  });

  it('anything else is "don\'t know"', async () => {
    expect(await routeLocator('http://m/r', fetchAnswering(503, { code: 'AGENT_OFFLINE' }))('t')).toBeUndefined();
    expect(await routeLocator('http://m/r', fetchAnswering(200, { streamUrl: 'http://not-a-socket' }))('t')).toBeUndefined();
    expect(await routeLocator('http://m/r', fetchAnswering(200, null))('t')).toBeUndefined();
  });
});

describe('StreamClient when the far end refuses the session', () => {
  it('hands the typed reason (code and words) to onError before the final close', () => {
    const seen: string[] = [];
    const client = new StreamClient({
      streamUrl: 'ws://relay.test/v1/streams/x',
      token: 't',
      socket: (_url, _protocols, events) => {
        queueMicrotask(() => {
          events.open();
          events.message(encodeStreamMessage({ type: 'error', code: 'BMC_BUSY', message: 'SOL is already active on another session (BMC session 0x2)' }));
          events.close(StreamCloseCode.BMC_UNREACHABLE, 'BMC_BUSY');
        });
        return { send: () => undefined, close: () => undefined };
      },
      setTimer: () => () => undefined,
      onData: () => undefined,
      onError: (code, message) => seen.push(`error ${code}: ${message}`),
      onClose: (code, reason) => seen.push(`close ${code} ${reason}`),
    });
    return new Promise<void>((resolve) => queueMicrotask(() => {
      expect(seen).toEqual(['error BMC_BUSY: SOL is already active on another session (BMC session 0x2)', `close ${StreamCloseCode.BMC_UNREACHABLE} BMC_BUSY`]);
      expect(client.state).toBe('closed');
      resolve();
    }));
  });
});
