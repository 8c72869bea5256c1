import { once } from 'node:events';
import { type AddressInfo } from 'node:net';
import { LightsoutError } from '@lightsout/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { openRfbProxy } from './proxy.js';
import { vncAuthResponse } from '@lightsout/bmc-wire/rfb';
import { type Script, type ScriptedServer, startScriptedServer } from '../testing/rfb-scripted-server.js';
import { viewFirstFrame } from '../testing/rfb-test-client.js';

const V38 = Buffer.from('RFB 003.008\n');
const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
};

let servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

async function serve(script: Script): Promise<string> {
  const server = await startScriptedServer(script);
  servers.push(server);
  return server.url;
}

async function failureOf(url: string, options: { password?: string; handshakeTimeoutMs?: number } = {}): Promise<LightsoutError> {
  const error = await openRfbProxy({ url, ...options }).then(
    (proxy) => {
      proxy.close();
      throw new Error('the proxy opened');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LightsoutError);
  return error as LightsoutError;
}

describe('hostile BMC handshakes give typed errors', () => {
  it('an SSH banner is BMC_PROTOCOL_ERROR without waiting for 12 bytes', async () => {
    const url = await serve((socket) => void socket.write('SSH-2.0-x'));
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', message: expect.stringContaining('did not send an RFB ProtocolVersion') });
  });

  it('a malformed version is BMC_PROTOCOL_ERROR', async () => {
    const url = await serve((socket) => void socket.write('RFB 003.00x\n'));
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_PROTOCOL_ERROR' });
  });

  it('a version below 3.3 is BMC_UNSUPPORTED', async () => {
    const url = await serve((socket) => void socket.write('RFB 002.000\n'));
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_UNSUPPORTED' });
  });

  it('count 0 with a reason is a refusal carrying that reason', async () => {
    const url = await serve(async (socket, next) => {
      socket.write(V38);
      await next(12);
      socket.write(Buffer.concat([Buffer.of(0), u32(13), Buffer.from('Too many auth')]));
    });
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_AUTH_FAILED', details: { reason: 'Too many auth' } });
  });

  it('a huge reason length is refused at once, not buffered', async () => {
    const url = await serve(async (socket, next) => {
      socket.write(V38);
      await next(12);
      socket.write(Buffer.concat([Buffer.of(0), u32(0xffffffff)]));
    });
    expect(await failureOf(url, { handshakeTimeoutMs: 5000 })).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', message: expect.stringContaining('exceeds the limit') });
  });

  it('a connection closed mid-list is BMC_PROTOCOL_ERROR naming the state', async () => {
    const url = await serve(async (socket, next) => {
      socket.write(V38);
      await next(12);
      socket.end(Buffer.of(3, 1));
    });
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', details: { state: 'awaitSecurityOffer' } });
  });

  it('silence is BMC_TIMEOUT', async () => {
    const url = await serve(() => undefined);
    expect(await failureOf(url, { handshakeTimeoutMs: 200 })).toMatchObject({ code: 'BMC_TIMEOUT' });
  });

  it('only unknown types is BMC_UNSUPPORTED naming them', async () => {
    const url = await serve(async (socket, next) => {
      socket.write(V38);
      await next(12);
      socket.write(Buffer.of(2, 200, 16));
    });
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_UNSUPPORTED', message: expect.stringContaining('unknown type 200 (200), Tight (16)') });
  });

  it('a 3.3 server demanding Tight is BMC_UNSUPPORTED', async () => {
    const url = await serve(async (socket, next) => {
      socket.write('RFB 003.003\n');
      await next(12);
      socket.write(u32(16));
    });
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_UNSUPPORTED' });
  });

  it('a SecurityResult failure with a huge reason is BMC_PROTOCOL_ERROR', async () => {
    const url = await serve(async (socket, next) => {
      socket.write(V38);
      await next(12);
      socket.write(Buffer.of(1, 2));
      await next(1);
      socket.write(Buffer.alloc(16, 7));
      await next(16);
      socket.write(Buffer.concat([u32(1), u32(1 << 30)]));
    });
    expect(await failureOf(url, { password: 'x' })).toMatchObject({ code: 'BMC_PROTOCOL_ERROR' });
  });

  it('bytes pushed after SecurityResult (before ClientInit) are BMC_PROTOCOL_ERROR', async () => {
    const url = await serve(async (socket, next) => {
      socket.write(V38);
      await next(12);
      socket.write(Buffer.of(1, 1));
      await next(1);
      socket.write(Buffer.concat([u32(0), Buffer.from('surprise')]));
    });
    expect(await failureOf(url)).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', message: expect.stringContaining('unexpected bytes') });
  });

  it('after all of that the process still serves a well-behaved server byte-exactly', async () => {
    const challenge = Buffer.from('0123456789abcdef');
    let response: Buffer | undefined;
    const url = await serve(async (socket, next) => {
      // Dribble the handshake one byte at a time: every "need more" path runs.
      for (const byte of V38) socket.write(Buffer.of(byte));
      expect((await next(12)).toString()).toBe('RFB 003.008\n');
      socket.write(Buffer.of(2, 19, 2));
      expect((await next(1))[0]).toBe(2);
      socket.write(challenge);
      response = await next(16);
      socket.write(u32(0));
      expect((await next(1))[0]).toBe(1); // the client's ClientInit, passed through
      const init = Buffer.alloc(24);
      init.writeUInt16BE(2, 0);
      init.writeUInt16BE(1, 2);
      Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0]).copy(init, 4);
      socket.write(Buffer.concat([init.subarray(0, 20), u32(4), Buffer.from('fake')]));
      await next(20 + 8 + 10); // SetPixelFormat, SetEncodings, FramebufferUpdateRequest
      const rectangle = Buffer.alloc(12);
      rectangle.writeUInt16BE(2, 4);
      rectangle.writeUInt16BE(1, 6);
      socket.write(Buffer.concat([Buffer.of(0, 0, 0, 1), rectangle, Buffer.of(0x97, 0x6f, 0x2a, 0, 0x97, 0x6f, 0x2a, 0)]));
    });
    const proxy = await openRfbProxy({ url, password: 'vncpass' });
    const view = await viewFirstFrame(proxy.client);
    expect(response!.toString('hex')).toBe(Buffer.from(vncAuthResponse('vncpass', challenge)).toString('hex'));
    expect(view.serverInit.name).toBe('fake');
    expect(view.pixel(1, 0)).toBe('#2a6f97');
    proxy.close();
    await proxy.closed;
  });
});

describe('hostile or odd WebSocket endpoints', () => {
  async function wsServer(options: ConstructorParameters<typeof WebSocketServer>[0], onConnection: (socket: WebSocket) => void): Promise<{ url: string; close: () => Promise<void> }> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
    server.on('connection', onConnection);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return {
      url: `ws://127.0.0.1:${port}/kvm/0`,
      close: () =>
        new Promise((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    };
  }

  it('garbage in binary messages is BMC_PROTOCOL_ERROR', async () => {
    const server = await wsServer({}, (socket) => socket.send(Buffer.from('HTTP/1.1 200 OK\r\n')));
    try {
      expect(await failureOf(server.url)).toMatchObject({ code: 'BMC_PROTOCOL_ERROR' });
    } finally {
      await server.close();
    }
  });

  it('an HTTP error instead of the upgrade is BMC_UNREACHABLE with the status, and without the URL\'s credentials', async () => {
    const server = await wsServer({ verifyClient: (_info, callback) => callback(false, 401) }, () => undefined);
    try {
      const withCredentials = server.url.replace('://', '://kvm-user:kvm-secret@');
      const failure = await failureOf(withCredentials);
      expect(failure).toMatchObject({ code: 'BMC_UNREACHABLE', details: { status: 401, url: server.url } });
      expect(JSON.stringify({ message: (failure as Error).message, details: (failure as { details?: unknown }).details })).not.toContain('kvm-secret');
    } finally {
      await server.close();
    }
  });

  it('a TCP endpoint that refuses the connection says so without the URL\'s credentials', async () => {
    const failure = await failureOf('vnc://kvm-user:kvm-secret@127.0.0.1:1');
    expect(failure).toMatchObject({ code: 'BMC_UNREACHABLE', details: { url: 'vnc://127.0.0.1:1' } });
    expect(JSON.stringify({ message: (failure as Error).message, details: (failure as { details?: unknown }).details })).not.toContain('kvm-secret');
  });

  it('a server that picks no subprotocol is retried without one; messages split anywhere still parse', async () => {
    const server = await wsServer({ handleProtocols: () => false }, (socket) => {
      // RFB split across messages at awkward points, as websockify may do.
      socket.send(V38.subarray(0, 5));
      socket.send(V38.subarray(5));
      socket.once('message', () => socket.send(Buffer.concat([Buffer.of(1, 1)])));
      let count = 0;
      socket.on('message', () => {
        count += 1;
        if (count === 2) socket.send(u32(0));
      });
    });
    try {
      const proxy = await openRfbProxy({ url: server.url });
      expect(proxy.bmc).toMatchObject({ version: '3.8', securityType: { type: 1 } });
      proxy.close();
      await proxy.closed;
    } finally {
      await server.close();
    }
  });
});
