import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, RedfishError } from './errors.js';

/** What a handler answers; `send` writes it with the headers every Redfish response carries. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const ok = (body: unknown, headers: Record<string, string> = {}): Reply => ({ status: 200, body, headers });
export const NO_CONTENT: Reply = { status: 204 };

const MAX_BODY = 64 * 1024;

export function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** DSP0266 §13.2: a change with If-Match must name the resource's current ETag (`*` or none: unconditional). */
export function checkIfMatch(request: IncomingMessage, etag: string): void {
  const ifMatch = header(request, 'if-match');
  if (ifMatch === undefined || ifMatch === '*') return;
  const candidates = ifMatch.split(',').map((value) => value.trim());
  if (!candidates.includes(etag)) throw new RedfishError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.');
}

export async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY) throw new RedfishError(413, 'PayloadTooLarge', `Request bodies are limited to ${MAX_BODY} bytes.`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('MalformedJSON', 'The request body submitted was malformed JSON and could not be parsed.');
  }
}

export function send(response: ServerResponse, { status, body, headers = {} }: Reply): void {
  if (response.headersSent) return;
  const payload = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    'OData-Version': '4.0',
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}
