import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ErrorBody } from '@lightsout/shared';

/**
 * Requests in flight per client address, counted where a request first
 * exists: the raw handler the HTTP/1.1 and HTTP/2 servers call, before
 * Fastify builds its request, runs a hook, verifies a token or logs a line.
 *
 * Why here: one event loop serves every tenant, and a burst of requests costs
 * its Fastify work (routing, hooks, token verification, the error path, two
 * log lines) in the same loop turns as everyone else's calls. A flood of
 * 1,100 concurrent calls from one client, each refused by the per-token
 * bucket, still held another tenant's call for 2–8 s; refused here, the
 * flood's excess costs the HTTP parse and a fixed answer, and the loop turns
 * stay short. WebSocket upgrades never reach this handler (they are
 * long-lived and bounded elsewhere); a keep-alive connection between
 * requests holds nothing.
 *
 * The answer is the relay's: 429 RATE_LIMITED with Retry-After for REST, the
 * same status and stable code in the shape a gRPC or Connect client reads.
 */
export interface ClientRequestLimits {
  /** Requests from one client address in flight at once; 0 turns the bound off. */
  perAddress: number;
  /** Behind a reverse proxy: the client is the first X-Forwarded-For address (as Fastify's request.ip with trustProxy). */
  trustProxy: boolean;
}

/** Seconds a refused client is told to wait: its own calls in flight finish in about that time. */
export const CLIENT_RETRY_AFTER_SECONDS = 1;

type RawRequest = IncomingMessage;
type RawResponse = ServerResponse;
export type RawHandler = (request: RawRequest, response: RawResponse) => void;

export class ClientRequestGate {
  private readonly inFlight = new Map<string, number>();
  private readonly refusedListeners: Array<() => void> = [];

  constructor(readonly limits: ClientRequestLimits) {}

  /** One slot for `address`; undefined when it has `perAddress` in flight already. */
  tryAdmit(address: string): (() => void) | undefined {
    const count = this.inFlight.get(address) ?? 0;
    if (count >= this.limits.perAddress) {
      for (const listener of this.refusedListeners) listener();
      return undefined;
    }
    this.inFlight.set(address, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const remaining = (this.inFlight.get(address) ?? 1) - 1;
      if (remaining <= 0) this.inFlight.delete(address);
      else this.inFlight.set(address, remaining);
    };
  }

  inFlightFrom(address: string): number {
    return this.inFlight.get(address) ?? 0;
  }

  /** Addresses with a request in flight (the map never holds an idle one). */
  get addresses(): number {
    return this.inFlight.size;
  }

  onRefused(listener: () => void): void {
    this.refusedListeners.push(listener);
  }

  /** `handler` behind the bound: refused requests are answered here and never reach it. */
  wrap(handler: RawHandler): RawHandler {
    if (this.limits.perAddress === 0) return handler;
    return (request, response) => {
      const release = this.tryAdmit(clientAddressOf(request, this.limits.trustProxy));
      if (release === undefined) {
        refuse(request, response, this.limits.perAddress);
        return;
      }
      // 'close' comes once the answer is sent or the client went away, on HTTP/1.1 and HTTP/2 alike.
      response.once('close', release);
      handler(request, response);
    };
  }
}

/** The socket's peer, or with a trusted proxy the first X-Forwarded-For entry (the proxy-addr rule Fastify applies with trustProxy: true). */
export function clientAddressOf(request: RawRequest, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first !== undefined && first !== '') return first;
  }
  return request.socket.remoteAddress ?? 'unknown';
}

function refusalBody(perAddress: number): ErrorBody {
  return {
    code: 'RATE_LIMITED',
    message: `this client address already has ${perAddress} requests in flight`,
    hint: `retry after ${CLIENT_RETRY_AFTER_SECONDS} s; limits are per client address, per tenant and per caller (docs/security.md)`,
    details: { retryAfterSeconds: CLIENT_RETRY_AFTER_SECONDS, scope: 'client-concurrency' },
  };
}

/**
 * 429 in the caller's protocol. gRPC (and gRPC-Web) carries errors in
 * trailers with HTTP 200: a trailers-only answer with status 8
 * RESOURCE_EXHAUSTED (grpc/doc/statuscodes.md), as rpc/errors.ts maps
 * RATE_LIMITED; Connect reads `{code, message}` with its own code names
 * (connectrpc.com/docs/protocol, "Error end-stream"). Every shape names the
 * stable code in `lightsout-error-code`. HTTP/1.1 connections are closed
 * after the answer: a flooding client's sockets do not stay open for reuse.
 */
function refuse(request: RawRequest, response: RawResponse, perAddress: number): void {
  const body = refusalBody(perAddress);
  const headers: OutgoingHttpHeaders = {
    'retry-after': String(CLIENT_RETRY_AFTER_SECONDS),
    'lightsout-error-code': 'RATE_LIMITED',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (request.httpVersionMajor === 1) headers['connection'] = 'close';
  const contentType = request.headers['content-type'] ?? '';
  if (contentType.startsWith('application/grpc')) {
    response.writeHead(200, { ...headers, 'content-type': contentType.startsWith('application/grpc-web') ? 'application/grpc-web+proto' : 'application/grpc', 'grpc-status': '8', 'grpc-message': encodeURIComponent(body.message) });
    response.end();
    return;
  }
  const connect = request.headers['connect-protocol-version'] !== undefined || contentType.startsWith('application/connect');
  const payload = JSON.stringify(connect ? { code: 'resource_exhausted', message: body.message } : body);
  response.writeHead(429, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  response.end(payload);
}
