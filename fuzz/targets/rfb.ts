import {
  BmcHandshake, ClientHandshake, decodeClientInit, decodeClientMessage, decodeClientProtocolVersion, decodeFramebufferUpdateHeader, decodePixelFormat, decodeProtocolVersion,
  decodeRectangleHeader, decodeSecurityChoice, decodeSecurityResult, decodeSecurityType33, decodeSecurityTypes, decodeServerInit, decodeVncAuthChallenge, type Decoded,
  encodeClientMessage, encodeFramebufferUpdateHeader, encodePixelFormat, encodeRectangleHeader, encodeSecurityRefusal, encodeSecurityResult, encodeSecurityType33, encodeSecurityTypes,
  encodeServerInit, MAX_CUT_TEXT, MAX_DESKTOP_NAME_LENGTH, MAX_REASON_LENGTH, type PixelFormat,
} from '@lightsout/bmc-wire/rfb';
import { LightsoutError } from '@lightsout/shared';
import { concat, type Outcome, type Random, type Target } from '../engine.js';

const ascii = (text: string) => new TextEncoder().encode(text);
const join = (...parts: Uint8Array[]) => parts.reduce(concat, new Uint8Array(0));
const of = <T>(result: Decoded<T>): Outcome => (result.kind === 'value' ? { kind: 'value' } : { kind: 'needMore', needed: result.needed });

// x11vnc's and Xvnc's pixel format (32 bpp, depth 24, little-endian, true colour) and a 16-bpp one.
const X11VNC_FORMAT: PixelFormat = { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };
const RGB565: PixelFormat = { bitsPerPixel: 16, depth: 16, bigEndian: false, trueColour: true, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 };
const CHALLENGE = Uint8Array.from({ length: 16 }, (_, index) => index * 17);

/** What x11vnc (3.8, VNC auth or None), a 3.7 server and vncsnapshot-era 3.3 servers send during the handshake, up to ServerInit. */
const SERVER_STREAMS = [
  join(ascii('RFB 003.008\n'), encodeSecurityTypes([2]), CHALLENGE, encodeSecurityResult({ kind: 'ok' }, '3.8')),
  join(ascii('RFB 003.008\n'), encodeSecurityTypes([1]), encodeSecurityResult({ kind: 'ok' }, '3.8')),
  join(ascii('RFB 003.008\n'), encodeSecurityTypes([19, 2, 1]), encodeSecurityResult({ kind: 'ok' }, '3.8')),
  join(ascii('RFB 003.007\n'), encodeSecurityTypes([1])),
  join(ascii('RFB 003.003\n'), encodeSecurityType33(2), CHALLENGE, encodeSecurityResult({ kind: 'ok' }, '3.3')),
  join(ascii('RFB 003.889\n'), encodeSecurityTypes([2]), CHALLENGE, encodeSecurityResult({ kind: 'failed', status: 1, reason: 'Authentication failed' }, '3.8')),
  join(ascii('RFB 003.008\n'), encodeSecurityRefusal('Too many security failures')),
];

/** What viewers send to a server: noVNC/TigerVNC (3.8, None), a 3.7 client, vncsnapshot (3.3), then ClientInit and a first request. */
const CLIENT_STREAMS = [
  join(ascii('RFB 003.008\n'), Uint8Array.of(1), Uint8Array.of(1), encodeClientMessage({ kind: 'set-encodings', encodings: [0, 1, -223] })),
  join(ascii('RFB 003.007\n'), Uint8Array.of(1)),
  join(ascii('RFB 003.003\n'), Uint8Array.of(0)),
];

/**
 * Several streaming decoders on the same bytes: an untyped throw is rethrown
 * at once; otherwise a value if any decoder took the bytes, else the largest
 * need-more, else the first typed refusal.
 */
function anyOf(bytes: Uint8Array, decoders: Array<(input: Uint8Array) => Decoded<unknown>>): Outcome {
  let refusal: LightsoutError | undefined;
  let needed: number | undefined;
  for (const decode of decoders) {
    try {
      const result = decode(bytes);
      if (result.kind === 'value') return { kind: 'value' };
      needed = Math.max(needed ?? 0, result.needed);
    } catch (error) {
      if (!(error instanceof LightsoutError)) throw error;
      refusal ??= error;
    }
  }
  if (needed !== undefined) return { kind: 'needMore', needed };
  throw refusal;
}

/** Feeds `bytes` to a handshake in chunks the random source cuts, as a socket would deliver them. */
function feed(bytes: Uint8Array, random: Random, receive: (chunk: Uint8Array) => { done: boolean }): Outcome {
  let offset = 0;
  while (offset < bytes.length) {
    const end = Math.min(bytes.length, offset + 1 + random.int(bytes.length));
    if (receive(bytes.subarray(offset, end)).done) return { kind: 'value' };
    offset = end;
  }
  return { kind: 'needMore', needed: 0 };
}

export const rfbTargets: Array<Target<Uint8Array>> = [
  {
    name: 'rfb-version',
    covers: 'decodeProtocolVersion (from a BMC), decodeClientProtocolVersion (from a viewer)',
    kind: 'bytes',
    maxNeeded: 12,
    seeds: () => ['RFB 003.008\n', 'RFB 003.003\n', 'RFB 003.007\n', 'RFB 003.889\n', 'RFB 004.001\n', 'RFB 005.000\n'].map(ascii),
    run(bytes) {
      const result = decodeProtocolVersion(bytes);
      decodeClientProtocolVersion(bytes);
      return of(result);
    },
  },
  {
    name: 'rfb-security',
    covers: 'decodeSecurityTypes, decodeSecurityType33, decodeSecurityResult (3.3 and 3.8), decodeSecurityChoice, decodeVncAuthChallenge',
    kind: 'bytes',
    maxNeeded: 1 + 4 + MAX_REASON_LENGTH + 4,
    seeds: () => [encodeSecurityTypes([2]), encodeSecurityTypes([19, 2, 1]), encodeSecurityRefusal('Too many security failures'), encodeSecurityType33(1), encodeSecurityResult({ kind: 'failed', status: 1, reason: 'Authentication failed' }, '3.8'), encodeSecurityResult({ kind: 'ok' }, '3.8')],
    run(bytes) {
      return anyOf(bytes, [decodeSecurityTypes, decodeSecurityType33, (input) => decodeSecurityResult(input, '3.8'), (input) => decodeSecurityResult(input, '3.3'), decodeSecurityChoice, decodeVncAuthChallenge]);
    },
  },
  {
    name: 'rfb-init',
    covers: 'decodeServerInit, decodePixelFormat (BMC and client), decodeClientInit',
    kind: 'bytes',
    maxNeeded: 24 + MAX_DESKTOP_NAME_LENGTH,
    seeds: () => [encodeServerInit({ width: 1024, height: 768, pixelFormat: X11VNC_FORMAT, name: 'host:0' }), encodeServerInit({ width: 640, height: 400, pixelFormat: RGB565, name: 'bmcsim' }), encodePixelFormat(X11VNC_FORMAT)],
    run(bytes, random) {
      const pixelFormat = (peer: 'bmc' | 'client') => (input: Uint8Array): Decoded<unknown> => ({ kind: 'value', value: decodePixelFormat(input, random.int(4), peer), length: 16 });
      return anyOf(bytes, [decodeServerInit, pixelFormat('bmc'), pixelFormat('client'), decodeClientInit, (input) => decodeServerInit(input.subarray(random.int(input.length + 1)))]);
    },
  },
  {
    name: 'rfb-client-messages',
    covers: 'decodeClientMessage over a stream of client-to-server messages (§7.5)',
    kind: 'bytes',
    maxNeeded: 8 + MAX_CUT_TEXT,
    seeds: () => [
      encodeClientMessage({ kind: 'set-pixel-format', format: RGB565 }),
      encodeClientMessage({ kind: 'set-encodings', encodings: [0, 1, 7, 16, -223, -239] }),
      encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: 1024, height: 768 }),
      join(encodeClientMessage({ kind: 'key', down: true, keysym: 0xff0d }), encodeClientMessage({ kind: 'key', down: false, keysym: 0xff0d })),
      encodeClientMessage({ kind: 'pointer', buttons: 1, x: 10, y: 20 }),
      encodeClientMessage({ kind: 'cut-text', text: ascii('clipboard') }),
    ],
    run(bytes) {
      // A server reads message after message from one buffer.
      let rest = bytes;
      for (;;) {
        const result = decodeClientMessage(rest);
        if (result.kind === 'needMore') return rest === bytes ? of(result) : { kind: 'value' };
        rest = rest.subarray(result.length);
        if (rest.length === 0) return { kind: 'value' };
      }
    },
  },
  {
    name: 'rfb-server-messages',
    covers: 'decodeFramebufferUpdateHeader, decodeRectangleHeader (§7.6.1)',
    kind: 'bytes',
    maxNeeded: 12,
    seeds: () => [join(encodeFramebufferUpdateHeader(1), encodeRectangleHeader({ x: 0, y: 0, width: 640, height: 16, encoding: 0 })), join(encodeFramebufferUpdateHeader(2), encodeRectangleHeader({ x: 1, y: 2, width: 3, height: 4, encoding: -223 }))],
    run(bytes) {
      const header = decodeFramebufferUpdateHeader(bytes);
      if (header.kind === 'needMore') return of(header);
      return of(decodeRectangleHeader(bytes.subarray(header.length)));
    },
  },
  {
    name: 'rfb-bmc-handshake',
    covers: 'BmcHandshake: the agent as a client toward a BMC, fed in random chunks',
    kind: 'bytes',
    seeds: () => SERVER_STREAMS,
    run(bytes, random) {
      const handshake = new BmcHandshake({ password: 'secret' });
      try {
        return feed(bytes, random, (chunk) => ({ done: handshake.receive(chunk).result !== undefined }));
      } catch (error) {
        // A refusal the BMC itself sent (count 0, failed SecurityResult) is a value too: the handshake ended as specified.
        if (error instanceof LightsoutError && (error.code === 'BMC_AUTH_FAILED' || error.code === 'BMC_UNSUPPORTED')) return { kind: 'value' };
        throw error;
      }
    },
  },
  {
    name: 'rfb-client-handshake',
    covers: 'ClientHandshake: the agent as a server toward a viewer, fed in random chunks',
    kind: 'bytes',
    seeds: () => CLIENT_STREAMS,
    run(bytes, random) {
      const handshake = new ClientHandshake();
      return feed(bytes, random, (chunk) => {
        const step = handshake.receive(chunk);
        if (step.failure !== undefined) throw step.failure;
        return { done: step.done !== undefined };
      });
    },
  },
];
