import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDualProtocolServer } from '../rpc/h2c.js';
import { type RunningRelay, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';
import { ClientRequestGate } from './client-requests.js';
import { NewConnectionQueue } from './new-connections.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request from `localAddress` (loopback is all of 127.0.0.0/8). */
function get(port: number, localAddress: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', localAddress, agent: false, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
  });
}

/** A server whose answers wait until the test releases them: requests stay in flight as long as it likes. */
let server: http.Server;
let port: number;
const held: Array<{ request: IncomingMessage; response: ServerResponse }> = [];
let onHeld: (() => void) | undefined;
const gate = new ClientRequestGate({ perAddress: 2, trustProxy: false });

beforeAll(async () => {
  server = createDualProtocolServer(
    gate.wrap((request, response) => {
      held.push({ request, response });
      onHeld?.();
    }),
    new NewConnectionQueue(16),
  );
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const { response } of held.splice(0)) response.end();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Resolves once `count` requests are held by the handler. */
function heldCount(count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (held.length < count) return;
      onHeld = undefined;
      resolve();
    };
    onHeld = check;
    check();
  });
}

function releaseAll(): void {
  for (const { response } of held.splice(0)) response.writeHead(200, { 'content-type': 'text/plain' }).end('served');
}

describe('requests in flight per client address', () => {
  it('refuses the one over the bound before the handler, in the stable shape, and serves other addresses meanwhile', async () => {
    const first = [get(port, '127.0.0.2'), get(port, '127.0.0.2')];
    await heldCount(2);
    expect(gate.inFlightFrom('127.0.0.2')).toBe(2);

    const refused = await get(port, '127.0.0.2');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['connection']).toBe('close');
    expect(refused.headers['lightsout-error-code']).toBe('RATE_LIMITED');
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'client-concurrency', retryAfterSeconds: 1 } });
    expect(held).toHaveLength(2);

    const other = get(port, '127.0.0.3');
    await heldCount(3);
    releaseAll();
    expect((await Promise.all([...first, other])).map((answer) => answer.status)).toEqual([200, 200, 200]);

    // The slots come back once the answers are sent.
    expect(gate.inFlightFrom('127.0.0.2')).toBe(0);
    expect(gate.addresses).toBe(0);
    const again = get(port, '127.0.0.2');
    await heldCount(1);
    releaseAll();
    expect((await again).status).toBe(200);
  });

  it('answers a gRPC call over the bound as gRPC reads a refusal: status 8 RESOURCE_EXHAUSTED and the stable code', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.4' }) });
    try {
      const call = () =>
        new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          const stream = session.request({ ':method': 'POST', ':path': '/lightsout.v1.PowerService/GetPower', 'content-type': 'application/grpc', te: 'trailers' });
          stream.on('response', resolve);
          stream.on('error', reject);
          stream.end();
        });
      void call();
      void call();
      await heldCount(2);
      const refused = await call();
      expect(refused).toMatchObject({ ':status': 200, 'grpc-status': '8', 'lightsout-error-code': 'RATE_LIMITED', 'retry-after': '1' });
      expect(decodeURIComponent(String(refused['grpc-message']))).toContain('2 requests in flight');
    } finally {
      releaseAll();
      session.destroy();
    }
  });

  it('behind a trusted proxy, counts the first X-Forwarded-For address, not the proxy', async () => {
    const proxied = new ClientRequestGate({ perAddress: 1, trustProxy: true });
    const seen: string[] = [];
    const handler = proxied.wrap((request) => seen.push(String(request.headers['x-forwarded-for'])));
    const request = (forwardedFor: string) => ({ headers: { 'x-forwarded-for': forwardedFor }, socket: { remoteAddress: '10.0.0.1' }, httpVersionMajor: 1 }) as unknown as IncomingMessage;
    const response = () => ({ once: () => undefined, writeHead: () => undefined, end: () => undefined }) as unknown as ServerResponse;
    handler(request('203.0.113.7, 10.0.0.1'), response());
    handler(request('203.0.113.8'), response());
    handler(request('203.0.113.7'), response());
    expect(seen).toEqual(['203.0.113.7, 10.0.0.1', '203.0.113.8']);
    expect(proxied.inFlightFrom('203.0.113.7')).toBe(1);
  });
});

describe('the relay applies limits.clientRequests.perAddress before any route', () => {
  let relay: RunningRelay;
  beforeAll(async () => {
    relay = await startRelay({ config: { limits: { clientRequests: { perAddress: 1 } } } });
  });
  afterAll(async () => {
    await relay?.close();
  });

  it('a request still sending its body holds the slot; the next one from that address gets 429, another address is served', async () => {
    const { port: relayPort } = new URL(relay.url);
    // Fastify waits for the whole body: the request stays in flight until it ends.
    const slow = http.request({ host: '127.0.0.1', port: Number(relayPort), path: '/v1/users', method: 'POST', localAddress: '127.0.0.6', agent: false, headers: { 'content-type': 'application/json', 'content-length': '100' } });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on('response', (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      slow.on('error', reject);
    });
    slow.write('{');
    await waitFor('the slow request to hold its slot', () => relay.app.clientRequests.inFlightFrom('127.0.0.6') === 1, { intervalMs: 5 });
    const refused = await get(Number(relayPort), '127.0.0.6');
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'client-concurrency' } });
    expect((await get(Number(relayPort), '127.0.0.7')).status).not.toBe(429);
    slow.end(`${' '.repeat(98)}}`);
    // Its own answer came from the route (the body is read, the caller is not signed in), not from the bound.
    expect(await slowAnswer).not.toBe(429);
  });
});
