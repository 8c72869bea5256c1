import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { run } from '../main.js';

/**
 * A relay stand-in for command tests: real HTTP on loopback, so the CLI runs
 * its whole client path (bearer, renewal, step-up, error bodies); each request
 * is recorded and answered by the test's function.
 */

/** A seen request without its headers: what most tests compare whole. */
export function requestLine({ method, url, authorization, body }: SeenRequest): Omit<SeenRequest, 'headers'> {
  return { method, url, authorization, body };
}

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  authorization: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** A JSON body parsed, any other body as its bytes, undefined when there was none. */
  body: unknown;
}

export interface StubAnswer {
  status: number;
  /** Sent as JSON; omitted: an empty body. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RelayStub {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function relayStub(answer: (seen: SeenRequest) => StubAnswer): Promise<RelayStub> {
  const seen: SeenRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const isJson = (request.headers['content-type'] ?? '').startsWith('application/json');
      const body = bytes.length === 0 ? undefined : isJson ? (JSON.parse(bytes.toString('utf8')) as unknown) : bytes;
      const entry: SeenRequest = { method: request.method ?? 'GET', url: request.url ?? '', authorization: request.headers.authorization, headers: request.headers, body };
      seen.push(entry);
      const reply = answer(entry);
      const headers = { ...(reply.body === undefined ? {} : { 'content-type': 'application/json' }), ...reply.headers };
      response.writeHead(reply.status, headers).end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Stubs started by one test file, all closed by `closeAll` (an afterEach). */
export function relayStubs(): { start(answer: (seen: SeenRequest) => StubAnswer): Promise<RelayStub>; closeAll(): Promise<void> } {
  const open: RelayStub[] = [];
  return {
    async start(answer) {
      const stub = await relayStub(answer);
      open.push(stub);
      return stub;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((stub) => stub.close()));
    },
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * One command line in-process against `relay` with `env` (default: the
 * script token `t`); `confirm` answers a bulk confirmation.
 */
export async function runCli(argv: string[], relay: string, options: { env?: NodeJS.ProcessEnv; confirm?: (question: string) => Promise<boolean> } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    env: { ...(options.env ?? { LIGHTSOUT_TOKEN: 't' }), LIGHTSOUT_RELAY: relay },
    output: { out: (text) => (stdout += text), err: (text) => (stderr += text) },
    ...(options.confirm === undefined ? {} : { confirm: options.confirm }),
  });
  return { code, stdout, stderr };
}
