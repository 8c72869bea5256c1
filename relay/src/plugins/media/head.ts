import type { IncomingMessage, ServerResponse } from 'node:http';
import { TUS_RESUMABLE } from '@tus/server';
import { Metadata, type Upload } from '@tus/utils';
import { type PatchContext, refuse, sendRefusal, tusHeaders, completeButUnchecked, uploadFor } from './patch.js';
import { type UploadCaller, finishUpload } from './uploads.js';

/**
 * tus HEAD (core §3.2.1 "HEAD") of an upload in the relay's file store. The
 * offset is the data file's size, a stat, so a HEAD reads without the
 * upload's lock: a HEAD taking the lock asked the PATCH holding it to let go
 * (@tus/server's does), and a HEAD is `media.read`, which a viewer holds.
 * Only a newer PATCH takes an upload over (patch.ts).
 *
 * One case takes the lock: an upload complete on disk whose SHA-256 was
 * never checked (the relay stopped between its last write and the check).
 * Its offset equals its length, so a tus client sends nothing more and the
 * check would never run: it runs here, and a mismatch answers 460 with the
 * upload deleted, after which a tus client starts a new one.
 */
export async function handleHead(context: PatchContext, request: IncomingMessage, response: ServerResponse, id: string | undefined, caller: UploadCaller): Promise<void> {
  const headers = tusHeaders();
  try {
    if (request.headers['tus-resumable'] === undefined) throw refuse(412, 'BAD_REQUEST', 'Tus-Resumable is required');
    if (request.headers['tus-resumable'] !== TUS_RESUMABLE) throw refuse(400, 'BAD_REQUEST', `this server speaks tus ${TUS_RESUMABLE}`);
    if (!id) throw refuse(404, 'NOT_FOUND', 'no such upload');
    let upload = await uploadFor(context.store, id, caller);
    if (completeButUnchecked(upload)) upload = await finishLocked(context, upload, request);
    response
      .writeHead(200, {
        ...headers,
        // core §3.2.1: the answer must not be cached; Upload-Offset always, Upload-Length once known
        'Cache-Control': 'no-store',
        'Upload-Offset': String(upload.offset),
        ...(upload.size !== undefined ? { 'Upload-Length': String(upload.size) } : {}),
        ...(upload.metadata ? { 'Upload-Metadata': Metadata.stringify(upload.metadata) } : {}),
      })
      .end();
  } catch (error) {
    sendRefusal(request, response, headers, error);
  }
}

async function finishLocked(context: PatchContext, upload: Upload, request: IncomingMessage): Promise<Upload> {
  const stop = new AbortController();
  request.once('close', () => stop.abort());
  const lock = context.locker.newLock(upload.id);
  try {
    // the check is short next to a body; a PATCH asking for the lock meanwhile gets it after
    await lock.lock(stop.signal, async () => undefined);
  } catch {
    throw refuse(423, 'CONFLICT', 'another request is writing this upload; retry');
  }
  try {
    // a PATCH may have finished it while this waited for the lock
    const current = await context.store.getUpload(upload.id);
    if (completeButUnchecked(current)) await finishUpload(context.store, current, context.onVerified);
    return current;
  } finally {
    await lock.unlock();
  }
}
