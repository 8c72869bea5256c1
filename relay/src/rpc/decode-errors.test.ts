import http2 from 'node:http2';
import { fromBinary } from '@bufbuild/protobuf';
import { base64Decode } from '@bufbuild/protobuf/wire';
import { ErrorInfoSchema } from '@lightsout/shared/rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, startRelay } from '../testing/index.js';
import { ERROR_CODE_METADATA } from './errors.js';

/**
 * Bodies Connect itself cannot decode — garbage protobuf, broken JSON, a
 * field of the wrong JSON type — sent as raw HTTP, so no client library
 * tidies them up: each answer keeps Connect's status (invalid_argument)
 * and carries the relay's stable code, MALFORMED_MESSAGE, as every other
 * RPC error does (header or trailer, and an ErrorInfo detail).
 */
let relay: RunningRelay;

beforeAll(async () => {
  relay = await startRelay();
}, 60_000);

afterAll(async () => {
  await relay?.close();
});

/** Not a protobuf message: a tag whose varint never ends (protobuf encoding, "Base 128 Varints"). */
const GARBAGE = Uint8Array.of(0xff, 0xff, 0xff);

/** One gRPC length-prefixed message (gRPC over HTTP/2, "Length-Prefixed-Message"): compressed flag, 4-byte length, bytes. */
function envelope(flags: number, bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

function errorInfoCodes(details: unknown): string[] {
  const list = (details ?? []) as Array<{ type: string; value: string }>;
  return list.filter((detail) => detail.type === 'lightsout.v1.ErrorInfo').map((detail) => fromBinary(ErrorInfoSchema, base64Decode(detail.value)).code);
}

async function connectUnary(contentType: string, body: Uint8Array | string) {
  const response = await fetch(`${relay.url}/lightsout.v1.ServerService/GetServer`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  return { status: response.status, header: response.headers.get(ERROR_CODE_METADATA), body: text === '' ? {} : (JSON.parse(text) as { code?: string; message?: string; details?: unknown }) };
}

describe('a request body Connect cannot decode', () => {
  it('Connect unary, binary: 400 invalid_argument with MALFORMED_MESSAGE', async () => {
    const answer = await connectUnary('application/proto', GARBAGE);
    expect({ status: answer.status, code: answer.body.code, header: answer.header, detail: errorInfoCodes(answer.body.details) }).toEqual({ status: 400, code: 'invalid_argument', header: 'MALFORMED_MESSAGE', detail: ['MALFORMED_MESSAGE'] });
  });

  it('Connect unary, JSON: broken JSON and a field of the wrong type are MALFORMED_MESSAGE', async () => {
    for (const body of ['{"serverId": ', '{"serverId": 5}', '\u00ff\u00fe']) {
      const answer = await connectUnary('application/json', body);
      expect({ body, status: answer.status, code: answer.body.code, header: answer.header, detail: errorInfoCodes(answer.body.details) }).toEqual({ body, status: 400, code: 'invalid_argument', header: 'MALFORMED_MESSAGE', detail: ['MALFORMED_MESSAGE'] });
    }
  });

  it('a body over the 1 MiB limit is PAYLOAD_TOO_LARGE (resource_exhausted)', async () => {
    const answer = await connectUnary('application/proto', new Uint8Array(1024 * 1024 + 1));
    expect({ status: answer.status, code: answer.body.code, header: answer.header, detail: errorInfoCodes(answer.body.details) }).toEqual({ status: 429, code: 'resource_exhausted', header: 'PAYLOAD_TOO_LARGE', detail: ['PAYLOAD_TOO_LARGE'] });
  });

  it('a content type no protocol speaks (or none): 415 with the relay\'s error body and code', async () => {
    for (const contentType of ['text/plain', undefined]) {
      const response = await fetch(`${relay.url}/lightsout.v1.ServerService/GetServer`, { method: 'POST', headers: contentType === undefined ? {} : { 'content-type': contentType }, body: 'abc' });
      const body = (await response.json()) as { code: string; message: string };
      expect({ contentType, status: response.status, header: response.headers.get(ERROR_CODE_METADATA), code: body.code }).toEqual({ contentType, status: 415, header: 'BAD_REQUEST', code: 'BAD_REQUEST' });
      expect(body.message).toContain('application/grpc');
    }
  });

  it('a well-formed request still reaches the procedure (here: refused for its missing token, UNAUTHENTICATED)', async () => {
    const answer = await connectUnary('application/json', '{"serverId":"web-01"}');
    expect({ status: answer.status, code: answer.body.code, header: answer.header }).toEqual({ status: 401, code: 'unauthenticated', header: 'UNAUTHENTICATED' });
  });

  it('Connect server stream (WatchServers): the end-stream message carries the code', async () => {
    const response = await fetch(`${relay.url}/lightsout.v1.ServerService/WatchServers`, { method: 'POST', headers: { 'content-type': 'application/connect+proto' }, body: envelope(0, GARBAGE) });
    const bytes = Buffer.from(await response.arrayBuffer());
    // Connect protocol, "Streaming-Response": the last envelope (flag 0x02) is a JSON end-stream message.
    expect(response.status).toBe(200);
    expect(bytes.readUInt8(0)).toBe(0x02);
    const end = JSON.parse(bytes.subarray(5, 5 + bytes.readUInt32BE(1)).toString('utf8')) as { error: { code: string; details?: unknown }; metadata: Record<string, string[]> };
    expect({ code: end.error.code, metadata: end.metadata[ERROR_CODE_METADATA], detail: errorInfoCodes(end.error.details) }).toEqual({ code: 'invalid_argument', metadata: ['MALFORMED_MESSAGE'], detail: ['MALFORMED_MESSAGE'] });
  });

  it('gRPC-Web (HTTP/1.1): status 3 and the code in the trailer frame', async () => {
    const response = await fetch(`${relay.url}/lightsout.v1.ServerService/GetServer`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' }, body: envelope(0, GARBAGE) });
    const bytes = Buffer.from(await response.arrayBuffer());
    // gRPC-Web (PROTOCOL-WEB.md): trailers are the last frame, flag 0x80, as HTTP/1 header lines.
    expect(bytes.readUInt8(0)).toBe(0x80);
    const trailers = Object.fromEntries(
      bytes
        .subarray(5, 5 + bytes.readUInt32BE(1))
        .toString('utf8')
        .split('\r\n')
        .filter((line) => line !== '')
        .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    expect({ status: trailers['grpc-status'], code: trailers[ERROR_CODE_METADATA] }).toEqual({ status: '3', code: 'MALFORMED_MESSAGE' });
  });

  it('gRPC (cleartext HTTP/2): status 3 and the code in the trailers', async () => {
    const session = http2.connect(relay.url);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/lightsout.v1.ServerService/GetServer', 'content-type': 'application/grpc+proto', te: 'trailers' });
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve));
      const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
      stream.end(envelope(0, GARBAGE));
      stream.resume();
      // A trailers-only answer puts the status in the headers (gRPC over HTTP/2, "Trailers-Only").
      const all = { ...(await headers), ...(await Promise.race([trailers, new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('end', () => resolve({})))])) };
      expect({ status: all['grpc-status'], code: all[ERROR_CODE_METADATA] }).toEqual({ status: '3', code: 'MALFORMED_MESSAGE' });
    } finally {
      session.close();
    }
  });
});
