import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXPOSED_HEADERS, type Locker, TUS_RESUMABLE } from '@tus/server';
import type { Upload } from '@tus/utils';
import type { FastifyBaseLogger } from 'fastify';
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
    const upload = await appendLocked(context, request, id!, offset, caller, revoked);
    if (upload.offset !== upload.size && upload.creation_date) {
      headers['Upload-Expires'] = new Date(new Date(upload.creation_date).getTime() + context.store.getExpiration()).toUTCString();
    }
    response.writeHead(204, { ...headers, 'Upload-Offset': String(upload.offset) }).end();
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

type Log = Pick<FastifyBaseLogger, 'error'>;
const failureLogs = new WeakMap<ServerResponse, Log>();

/** Where sendRefusal logs what was not a refusal (a 5xx) for this response: the request's log. */
export function logFailuresTo(response: ServerResponse, log: Log): void {
  failureLogs.set(response, log);
}

/**
 * Answers a refused tus request with its status and our JSON error body.
 * What was not a refusal (a disk or database failure) is answered 500 and
 * logged, never thrown on: the answer is already on its way. A response that
 * has an answer already is not written again (writing after end emits
 * 'error' on the response, which nothing handles).
 */
export function sendRefusal(request: IncomingMessage, response: ServerResponse, headers: Record<string, string>, error: unknown): void {
  const refused = refusalOf(error);
  if (refused.status >= 500) (failureLogs.get(response) ?? console).error({ err: error, status: refused.status }, 'tus request failed');
  if (!response.headersSent) {
    const body = JSON.stringify(refused.error.toBody());
    response.writeHead(refused.status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
    response.end(body);
  } else if (!response.writableEnded) {
    // headers went out before the failure: the status cannot change; end what was started
    response.end();
  }
  // the client may still be sending: closing now would reset the connection under the answer (drain.ts)
  drainRest(request);
}

/**
 * The refusal an error is answered with. The file store throws tus's own
 * errors ({status_code, body}) for an upload that is not there: 404
 * (FILE_NOT_FOUND), or 410 Gone when its record outlived its bytes
 * (FILE_NO_LONGER_EXISTS) — tus 1.0 core "HEAD"/"PATCH" (404 or 410 for an
 * upload that is not there) and "Expiration" (410 when the server knows it
 * removed it). Before, they were answered 500 and thrown on.
 */
export function refusalOf(error: unknown): PatchRefused {
  if (error instanceof PatchRefused) return error;
  if (error instanceof LightsoutError) return new PatchRefused(error, finishStatus(error));
  const tusStatus = (error as { status_code?: unknown } | null)?.status_code;
  if (tusStatus === 404) return refuse(404, 'NOT_FOUND', 'no such upload');
  if (tusStatus === 410) return refuse(410, 'NOT_FOUND', 'the upload no longer exists');
  return new PatchRefused(new LightsoutError('INTERNAL', 'the upload could not be stored', { cause: error }), 500);
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

/**
 * The upload `id` as `caller` may see it: another tenant's does not exist for them; an unfinished one past its
 * expiry is gone (410, tus expiration extension: "Upload-Expires" is when the unfinished upload expires).
 */
export async function uploadFor(store: HashingFileStore, id: string, caller: UploadCaller): Promise<Upload> {
  const upload = await store.getUpload(id);
  if (upload.metadata?.tenant !== caller.tenant) throw refuse(404, 'NOT_FOUND', 'no such upload');
  const verified = upload.metadata?.verified === 'true' && upload.offset === upload.size;
  if (!verified && upload.creation_date && store.getExpiration() > 0 && Date.now() > new Date(upload.creation_date).getTime() + store.getExpiration()) {
    throw refuse(410, 'NOT_FOUND', 'the upload has expired');
  }
  return upload;
}

/** Complete on disk (every declared byte is there) but its SHA-256 not yet checked. */
export const completeButUnchecked = (upload: Upload) => upload.size !== undefined && upload.offset === upload.size && upload.metadata?.verified !== 'true';

/**
 * Appends the body under the upload's lock and returns the upload as it is
 * on disk afterwards, read before the lock is let go: a DELETE waiting for
 * the lock removes it only after this PATCH is answered from that state.
 */
async function appendLocked(context: PatchContext, request: IncomingMessage, id: string, offset: number, caller: UploadCaller, revoked?: AbortSignal): Promise<Upload> {
  const { store } = context;
  // The offset is checked before the lock too: a PATCH that cannot write (409) must not end the one that is writing.
  const before = await uploadFor(store, id, caller);
  if (before.offset !== offset) throw conflict(offset, before.offset);
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
    if (upload.offset !== offset) throw conflict(offset, upload.offset);
    const remaining = (upload.size ?? 0) - offset;
    const length = request.headers['content-length'];
    if (length !== undefined && Number(length) > remaining) throw refuse(413, 'PAYLOAD_TOO_LARGE', `the body is longer than the ${remaining} bytes the upload still needs`);
    const failure = await append(store, id, offset, remaining, request, stop.signal, context.onBytes).then(
      () => undefined,
      (error: unknown) => error,
    );
    // What is on disk decides, whatever the body did: a body that ran past the declared length (413) after the
    // last needed byte has still completed the upload, and tus clients never send it again.
    const after = await store.getUpload(id);
    if (completeButUnchecked(after)) await finishUpload(store, after, context.onVerified);
    if (failure !== undefined) throw failure;
    // what arrived while the caller still had access is kept; the rest of the body is not read
    if (revoked?.aborted) throw refuseRevoked();
    return after;
  } finally {
    await lock.unlock();
  }
}

const conflict = (offset: number, stored: number) => refuse(409, 'CONFLICT', `Upload-Offset ${offset} does not match the ${stored} bytes stored`);

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
