import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXPOSED_HEADERS, type Locker, TUS_RESUMABLE } from '@tus/server';
import { LightsoutError, UPLOAD_URL_HEADER } from '@lightsout/shared';
import { drainRest } from './drain.js';
import type { HashingFileStore } from './hashing-store.js';
import { type UploadCaller, type UploadRecord, finishStatus, finishUpload } from './uploads.js';

/**
 * tus 1.0 PATCH (core protocol §3.2.3 "PATCH") on plain Node streams: the
 * request body goes socket → hash → file with nothing in between. @tus/server
 * 2.x turns every body into a WHATWG stream and back (srvx request, then
 * Readable.fromWeb, a PassThrough and a limiter), which profiling showed as
 * the relay's largest cost per byte of an ISO upload. Everything else (POST,
 * HEAD, DELETE, OPTIONS) stays with @tus/server; this file appends to the
 * same FileStore files with the same semantics: the offset is the file's
 * size, a wrong Upload-Offset is 409 without touching the upload, the body
 * may stop anywhere (what arrived is kept, so the client resumes from there),
 * and the same per-upload lock (the shared Locker) serialises requests.
 */
export interface PatchContext {
  store: HashingFileStore;
  /** The Locker @tus/server uses too, so our PATCH and its HEAD/DELETE exclude each other. */
  locker: Locker;
  onVerified?: (record: UploadRecord) => void;
  /** Body bytes received (metrics). */
  onBytes?: (bytes: number) => void;
}

const CONTENT_TYPE = 'application/offset+octet-stream';
/** Large enough that the file stream writes several socket reads per syscall (writev) while one is in flight. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** A refusal with the tus status it is sent with (tus statuses differ from our codes' defaults in places). */
export class PatchRefused extends Error {
  constructor(
    readonly error: LightsoutError,
    readonly status: number,
  ) {
    super(error.message);
  }
}

export const refuse = (status: number, code: LightsoutError['code'], message: string) => new PatchRefused(new LightsoutError(code, message), status);

/** `revoked` aborts when the caller's access is revoked mid-body: the bytes stop there and the PATCH is refused. */
export async function handlePatch(context: PatchContext, request: IncomingMessage, response: ServerResponse, id: string | undefined, caller: UploadCaller, revoked?: AbortSignal): Promise<void> {
  const headers = tusHeaders();
  try {
    const offset = validate(request, id);
    const newOffset = await appendLocked(context, request, id!, offset, caller, revoked);
    const upload = await context.store.getUpload(id!);
    if (upload.size !== undefined && newOffset === upload.size) {
      await finishUpload(context.store, upload, context.onVerified);
    } else if (upload.creation_date) {
      headers['Upload-Expires'] = new Date(new Date(upload.creation_date).getTime() + context.store.getExpiration()).toUTCString();
    }
    response.writeHead(204, { ...headers, 'Upload-Offset': String(newOffset) }).end();
    // a body that stopped early (lock handed over, caller revoked) may still be arriving
    drainRest(request);
  } catch (error) {
    sendRefusal(request, response, headers, error);
  }
}

/** The headers every tus answer carries (core §2.4 Tus-Resumable), readable by a browser client. */
export function tusHeaders(): Record<string, string> {
  return { 'Tus-Resumable': TUS_RESUMABLE, 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': `${EXPOSED_HEADERS}, ${UPLOAD_URL_HEADER}` };
}

/** Answers a refused tus request with its status and our JSON error body; rethrows what was not a refusal (5xx). */
export function sendRefusal(request: IncomingMessage, response: ServerResponse, headers: Record<string, string>, error: unknown): void {
  const refused =
    error instanceof PatchRefused
      ? error
      : error instanceof LightsoutError
        ? new PatchRefused(error, finishStatus(error))
        : new PatchRefused(new LightsoutError('INTERNAL', 'the upload could not be stored', { cause: error }), 500);
  const body = JSON.stringify(refused.error.toBody());
  if (!response.headersSent) response.writeHead(refused.status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
  response.end(body);
  // the client may still be sending: closing now would reset the connection under the answer (drain.ts)
  drainRest(request);
  if (refused.status >= 500 && !(error instanceof LightsoutError)) throw error;
}

/** The header checks of tus core §3.2.3 (and §2.4 Tus-Resumable), in the statuses @tus/server uses. */
export function validate(request: IncomingMessage, id: string | undefined): number {
  const version = request.headers['tus-resumable'];
  if (version === undefined) throw refuse(412, 'BAD_REQUEST', 'Tus-Resumable is required');
  if (version !== TUS_RESUMABLE) throw refuse(400, 'BAD_REQUEST', `this server speaks tus ${TUS_RESUMABLE}`);
  if (!id) throw refuse(404, 'NOT_FOUND', 'no such upload');
  const offsetHeader = request.headers['upload-offset'];
  if (offsetHeader === undefined) throw refuse(403, 'BAD_REQUEST', 'Upload-Offset is required');
  if (typeof offsetHeader !== 'string' || !/^\d{1,16}$/.test(offsetHeader) || !Number.isSafeInteger(Number(offsetHeader))) throw refuse(400, 'BAD_REQUEST', 'Upload-Offset must be a byte offset');
  const contentType = request.headers['content-type'];
  if (contentType === undefined) throw refuse(403, 'BAD_REQUEST', `Content-Type ${CONTENT_TYPE} is required`);
  if (contentType !== CONTENT_TYPE) throw refuse(400, 'BAD_REQUEST', `Content-Type must be ${CONTENT_TYPE}`);
  if (request.headers['upload-length'] !== undefined) throw refuse(400, 'VALIDATION_FAILED', 'Upload-Length is set at creation (deferred length is not accepted)');
  return Number(offsetHeader);
}

async function appendLocked(context: PatchContext, request: IncomingMessage, id: string, offset: number, caller: UploadCaller, revoked?: AbortSignal): Promise<number> {
  const { store } = context;
  // another tenant's upload does not exist, as far as this caller can tell
  const before = await store.getUpload(id).catch(() => undefined);
  if (!before || before.metadata?.tenant !== caller.tenant) throw refuse(404, 'NOT_FOUND', 'no such upload');
  if (before.creation_date && store.getExpiration() > 0 && Date.now() > new Date(before.creation_date).getTime() + store.getExpiration()) {
    throw refuse(410, 'NOT_FOUND', 'the upload has expired');
  }
  const stop = new AbortController();
  request.once('close', () => stop.abort());
  const refuseRevoked = () => refuse(403, 'FORBIDDEN', 'access was revoked during the upload');
  if (revoked?.aborted) throw refuseRevoked();
  revoked?.addEventListener('abort', () => stop.abort(), { once: true });
  const lock = context.locker.newLock(id);
  try {
    // a newer request for this upload asks us to let go: end the body here, keeping what arrived (tus resumes from it)
    await lock.lock(stop.signal, async () => stop.abort());
  } catch {
    throw refuse(423, 'CONFLICT', 'another request is writing this upload; retry');
  }
  try {
    // read again under the lock: the offset is what is on disk now
    const upload = await store.getUpload(id);
    if (upload.offset !== offset) throw refuse(409, 'CONFLICT', `Upload-Offset ${offset} does not match the ${upload.offset} bytes stored`);
    const remaining = (upload.size ?? 0) - offset;
    const length = request.headers['content-length'];
    if (length !== undefined && Number(length) > remaining) throw refuse(413, 'PAYLOAD_TOO_LARGE', `the body is longer than the ${remaining} bytes the upload still needs`);
    const newOffset = await append(store, id, offset, remaining, request, stop.signal, context.onBytes);
    // what arrived while the caller still had access is kept; the rest of the body is not read
    if (revoked?.aborted) throw refuseRevoked();
    return newOffset;
  } finally {
    await lock.unlock();
  }
}

/**
 * Streams the body to the file at `offset`, hashing on the way. Returns the
 * new offset. A body that stops early (client gone, lock handed over) is not
 * an error: every byte that reached the hash also reaches the disk.
 */
async function append(store: HashingFileStore, id: string, offset: number, remaining: number, request: IncomingMessage, stop: AbortSignal, onBytes?: (bytes: number) => void): Promise<number> {
  const hash = await store.takeHash(id, offset);
  let received = 0;
  const meter = new Transform({
    highWaterMark: WRITE_BUFFER_BYTES,
    transform(chunk: Buffer, _encoding, callback) {
      if (received + chunk.byteLength > remaining) {
        callback(new PatchRefused(new LightsoutError('PAYLOAD_TOO_LARGE', `the body is longer than the ${remaining} bytes the upload still needs`), 413));
        return;
      }
      received += chunk.byteLength;
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  let ended = false;
  const endBody = () => {
    if (ended) return;
    ended = true;
    request.unpipe(meter);
    meter.end();
  };
  if (stop.aborted) endBody();
  stop.addEventListener('abort', endBody, { once: true });
  request.on('error', endBody);
  request.once('end', () => (ended = true));
  request.pipe(meter);
  try {
    await pipeline(meter, createWriteStream(store.pathOf(id), { flags: 'r+', start: offset, highWaterMark: WRITE_BUFFER_BYTES }));
  } finally {
    stop.removeEventListener('abort', endBody);
    request.off('error', endBody);
    onBytes?.(received);
  }
  // only now does the hash describe exactly the bytes on disk; after a failure it is rebuilt from the file
  store.returnHash(id, hash, offset + received);
  return offset + received;
}
