import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';

/**
 * Every error body has the stable {code, message} shape, including the
 * answers nobody's route code writes: Node's HTTP parser refusing a request
 * (400, 431), Fastify refusing a URL, and the tus server's own refusals.
 */
let relay: RunningRelay;
let operator: string;

beforeAll(async () => {
  relay = await startRelay();
  operator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
});
afterAll(async () => {
  await relay.close();
});

/** Send raw bytes and read the whole answer until the relay closes the connection. */
function rawRequest(bytes: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(relay.port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body });
    });
    socket.write(bytes);
  });
}

function expectErrorBody(body: string, code: string) {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(parsed).toMatchObject({ code, message: expect.any(String) });
  expect(Object.keys(parsed).every((key) => ['code', 'message', 'hint', 'details'].includes(key))).toBe(true);
}

describe('error bodies that no route writes', () => {
  it('headers larger than Node accepts → 431 HEADERS_TOO_LARGE', async () => {
    const answer = await rawRequest(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer.status).toBe(431);
    expect(answer.headers).toContain('content-type: application/json');
    expect(answer.headers).toContain('x-content-type-options: nosniff');
    expectErrorBody(answer.body, 'HEADERS_TOO_LARGE');
  });

  it('a request Node cannot parse → 400 BAD_REQUEST', async () => {
    const answer = await rawRequest('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: nope\r\n\r\n');
    expect(answer.status).toBe(400);
    expectErrorBody(answer.body, 'BAD_REQUEST');
  });

  it('a URL Fastify cannot decode → 400 BAD_REQUEST', async () => {
    const response = await fetch(`${relay.url}/v1/servers/%E0%A4%A`);
    expect(response.status).toBe(400);
    expectErrorBody(await response.text(), 'BAD_REQUEST');
  });

  it('tus refusals: bad Upload-Length → 400 BAD_REQUEST, no Tus-Resumable → 412 PROTOCOL_VERSION, as JSON', async () => {
    const badLength = await fetch(`${relay.url}/v1/media/uploads`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'tus-resumable': '1.0.0', 'upload-length': 'lots' } });
    expect(badLength.status).toBe(400);
    expect(badLength.headers.get('content-type')).toContain('application/json');
    expect(badLength.headers.get('tus-resumable')).toBe('1.0.0');
    const body = await badLength.text();
    expectErrorBody(body, 'BAD_REQUEST');
    expect(body).toMatch(/upload-length/i);
    const noVersion = await fetch(`${relay.url}/v1/media/uploads`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'upload-length': '10' } });
    expect(noVersion.status).toBe(412);
    expectErrorBody(await noVersion.text(), 'PROTOCOL_VERSION');
    const missing = await fetch(`${relay.url}/v1/media/uploads/${'0'.repeat(32)}`, { method: 'HEAD', headers: { authorization: `Bearer ${operator}`, 'tus-resumable': '1.0.0' } });
    expect(missing.status).toBe(404);
  });
});
