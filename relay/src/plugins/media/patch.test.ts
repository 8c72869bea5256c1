import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import { HashingFileStore } from './hashing-store.js';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';

/**
 * Our PATCH (patch.ts) against the tus 1.0 core protocol §3.2.3: the cases
 * tus-js-client relies on (offset checks, bodies that stop early, a newer
 * request taking over the upload) and the guarantees on top (hash of exactly
 * the bytes on disk, never past the declared length).
 */
const apps: MediaTestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
let operator: string, vic: string;
beforeAll(async () => {
  operator = await mediaAuthorization('acme', 'operator', 'olga');
  vic = await mediaAuthorization('acme', 'viewer', 'vic');
});

const tus = { 'Tus-Resumable': '1.0.0' };
const octets = { 'Content-Type': 'application/offset+octet-stream' };
const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function createUpload(image: Uint8Array, sha256 = sha256Of(image)): Promise<{ app: MediaTestApp; location: string; file: string }> {
  const app = await startMediaApp();
  apps.push(app);
  const response = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, {
    method: 'POST',
    headers: { ...tus, Authorization: operator, 'Upload-Length': String(image.length), 'Upload-Metadata': `filename ${btoa('a.iso')},sha256 ${btoa(sha256)}` },
  });
  expect(response.status).toBe(201);
  const location = response.headers.get('location')!;
  return { app, location, file: join(app.directory, location.split('/').pop()!) };
}

function patch(app: MediaTestApp, location: string, offset: number, body: Uint8Array, headers: Record<string, string> = { ...tus, ...octets }): Promise<Response> {
  return fetch(`${app.url}${location}`, { method: 'PATCH', headers: { Authorization: operator, 'Upload-Offset': String(offset), ...headers }, body });
}

async function offsetOf(app: MediaTestApp, location: string): Promise<number> {
  const response = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: operator } });
  return Number(response.headers.get('upload-offset'));
}

/** A PATCH whose body is written by the test, chunk by chunk, and may be left hanging. */
function openPatch(app: MediaTestApp, location: string, offset: number, length: number | 'chunked'): { request: ClientRequest; response: Promise<IncomingMessage> } {
  const framing = length === 'chunked' ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(length) };
  const request = httpRequest(`${app.url}${location}`, {
    method: 'PATCH',
    headers: { ...tus, ...octets, Authorization: operator, 'Upload-Offset': String(offset), ...framing },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.on('response', resolve);
    request.on('error', reject);
  });
  response.catch(() => undefined);
  return { request, response };
}

describe('tus PATCH on Node streams', () => {
  it('answers 204 with the new offset, chunk after chunk, and verifies the SHA-256 at the last byte', async () => {
    const image = randomBytes(2 * 1024 * 1024 + 5);
    const { app, location, file } = await createUpload(image);
    const middle = 1024 * 1024 + 3;
    const first = await patch(app, location, 0, image.subarray(0, middle));
    expect(first.status).toBe(204);
    expect(first.headers.get('upload-offset')).toBe(String(middle));
    expect(first.headers.get('tus-resumable')).toBe('1.0.0');
    expect(first.headers.get('upload-expires')).toBeTruthy();
    const last = await patch(app, location, middle, image.subarray(middle));
    expect(last.status).toBe(204);
    expect(last.headers.get('upload-offset')).toBe(String(image.length));
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
    const listed = (await (await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).json()) as { images: { sha256: string }[] };
    expect(listed.images.map((entry) => entry.sha256)).toEqual([sha256Of(image)]);
  });

  it('refuses a wrong Upload-Offset with 409 and leaves the upload as it was', async () => {
    const image = randomBytes(100_000);
    const { app, location, file } = await createUpload(image);
    expect((await patch(app, location, 0, image.subarray(0, 40_000))).status).toBe(204);
    for (const wrong of [0, 39_999, 40_001]) {
      const response = await patch(app, location, wrong, image.subarray(wrong, wrong + 1000));
      expect(response.status, `offset ${wrong}`).toBe(409);
      expect(await response.json()).toMatchObject({ code: 'CONFLICT' });
    }
    expect(statSync(file).size).toBe(40_000);
    expect((await patch(app, location, 40_000, image.subarray(40_000))).status).toBe(204);
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
  });

  it('keeps the bytes of a body cut mid-way, resumes from them without a restart, and still verifies', async () => {
    const image = randomBytes(3 * 1024 * 1024);
    const { app, location, file } = await createUpload(image);
    const cut = 1024 * 1024 + 77;
    const { request } = openPatch(app, location, 0, image.length);
    request.on('error', () => undefined);
    request.write(image.subarray(0, cut));
    await waitFor('the relay to store the bytes before the cut', () => statSync(file).size === cut);
    request.destroy();
    await waitFor('the offset to settle at the cut', async () => (await offsetOf(app, location)) === cut);
    const resumed = await patch(app, location, cut, image.subarray(cut));
    expect(resumed.status).toBe(204);
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
  });

  it('still refuses with 460 and deletes the upload when the resumed bytes do not match the SHA-256', async () => {
    const image = randomBytes(200_000);
    const { app, location, file } = await createUpload(image, sha256Of(Buffer.from('another image')));
    expect((await patch(app, location, 0, image.subarray(0, 50_000))).status).toBe(204);
    const response = await patch(app, location, 50_000, image.subarray(50_000));
    expect(response.status).toBe(460);
    expect(await response.json()).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(() => statSync(file)).toThrow();
  });

  it('hands the upload over to a newer PATCH (a client resuming) instead of leaving it locked', async () => {
    const image = randomBytes(1024 * 1024);
    const { app, location, file } = await createUpload(image);
    const stale = openPatch(app, location, 0, image.length);
    stale.request.write(image.subarray(0, 300_000));
    await waitFor('the stale request to store its bytes', () => statSync(file).size === 300_000);
    // the resuming client's HEAD reads the offset; its PATCH takes the lock: the stale PATCH ends where its bytes ended
    expect(await offsetOf(app, location)).toBe(300_000);
    const resumed = patch(app, location, 300_000, image.subarray(300_000));
    expect((await stale.response).statusCode).toBe(204);
    stale.request.destroy();
    expect((await resumed).status).toBe(204);
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
  });

  it("a HEAD (a viewer's too) reads the offset without ending the PATCH that is writing", async () => {
    const image = randomBytes(100_000);
    const { app, location, file } = await createUpload(image);
    const writing = openPatch(app, location, 0, image.length);
    writing.request.write(image.subarray(0, 30_000));
    await waitFor('the first bytes on disk', () => statSync(file).size === 30_000);
    const head = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: vic } });
    expect({ status: head.status, offset: head.headers.get('upload-offset'), length: head.headers.get('upload-length'), cache: head.headers.get('cache-control') }).toEqual({
      status: 200,
      offset: '30000',
      length: '100000',
      cache: 'no-store',
    });
    writing.request.end(image.subarray(30_000));
    const answer = await writing.response;
    expect({ status: answer.statusCode, offset: answer.headers['upload-offset'] }).toEqual({ status: 204, offset: '100000' });
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
  });

  it('a PATCH with a wrong offset is refused 409 without ending the PATCH that is writing', async () => {
    const image = randomBytes(100_000);
    const { app, location, file } = await createUpload(image);
    const writing = openPatch(app, location, 0, image.length);
    writing.request.write(image.subarray(0, 30_000));
    await waitFor('the first bytes on disk', () => statSync(file).size === 30_000);
    const wrong = await patch(app, location, 0, image.subarray(0, 1000));
    expect(wrong.status).toBe(409);
    expect(await wrong.json()).toMatchObject({ code: 'CONFLICT' });
    writing.request.end(image.subarray(30_000));
    const answer = await writing.response;
    expect({ status: answer.statusCode, offset: answer.headers['upload-offset'] }).toEqual({ status: 204, offset: '100000' });
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
  });

  it('never writes past the declared length', async () => {
    const image = randomBytes(10_000);
    const { app, location, file } = await createUpload(image);
    const declared = await patch(app, location, 0, Buffer.concat([image, randomBytes(10)]));
    expect(declared.status).toBe(413);
    expect(statSync(file).size).toBe(0);
    // no Content-Length (chunked): refused once the body runs past the end
    const chunked = openPatch(app, location, 0, 'chunked');
    chunked.request.end(Buffer.concat([image, randomBytes(4096)]));
    expect((await chunked.response).statusCode).toBe(413);
    expect(statSync(file).size).toBeLessThanOrEqual(image.length);
  });

  it('answers malformed requests with the tus statuses', async () => {
    const image = randomBytes(1000);
    const { app, location, file } = await createUpload(image);
    expect((await patch(app, location, 0, image, { ...octets })).status).toBe(412);
    // a body without Content-Type is refused by fastify before tus sees it
    expect((await patch(app, location, 0, image, { ...tus })).status).toBe(400);
    expect((await patch(app, location, 0, image, { ...tus, 'Content-Type': 'application/octet-stream' })).status).toBe(400);
    expect((await patch(app, location, 0, image, { ...tus, ...octets, 'Upload-Length': '1000' })).status).toBe(400);
    const missingOffset = await fetch(`${app.url}${location}`, { method: 'PATCH', headers: { ...tus, ...octets, Authorization: operator }, body: image });
    expect(missingOffset.status).toBe(403);
    expect((await patch(app, `${MEDIA_UPLOADS_PATH}/${'f'.repeat(32)}`, 0, image)).status).toBe(404);
    expect((await patch(app, location, 0, image, { ...tus, ...octets, Authorization: vic })).status).toBe(403);
    expect(statSync(file).size).toBe(0);
  });

  it('a DELETE during a PATCH: the PATCH answers what it stored, the upload is gone, and the relay keeps answering', async () => {
    const image = randomBytes(100_000);
    const { app, location, file } = await createUpload(image);
    const writing = openPatch(app, location, 0, image.length);
    writing.request.on('error', () => undefined);
    writing.request.write(image.subarray(0, 10_000));
    await waitFor('the relay to store the first bytes', () => statSync(file).size === 10_000);
    // tus termination (core §3.3 "Termination") takes the upload's lock: the PATCH ends where its bytes ended
    const deleted = await fetch(`${app.url}${location}`, { method: 'DELETE', headers: { ...tus, Authorization: operator } });
    expect(deleted.status).toBe(204);
    const answer = await writing.response;
    expect({ status: answer.statusCode, offset: answer.headers['upload-offset'] }).toEqual({ status: 204, offset: '10000' });
    writing.request.destroy();
    expect(() => statSync(file)).toThrow();
    const after = await patch(app, location, 10_000, image.subarray(10_000));
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).status).toBe(200);
  });

  it('an upload whose bytes are gone but whose record is left answers 410 Gone (tus core §3.3), typed', async () => {
    const image = randomBytes(1000);
    const { app, location, file } = await createUpload(image);
    unlinkSync(file);
    const response = await patch(app, location, 0, image);
    expect(response.status).toBe(410);
    expect(await response.json()).toMatchObject({ code: 'NOT_FOUND' });
    const head = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: operator } });
    expect(head.status).toBe(410);
  });

  it('a store failure during a PATCH is one 500 with a typed body, and the relay keeps answering', async () => {
    const image = randomBytes(1000);
    const { app, location, file } = await createUpload(image);
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    vi.spyOn(HashingFileStore.prototype, 'takeHash').mockRejectedValueOnce(full);
    const failed = await patch(app, location, 0, image);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ code: 'INTERNAL' });
    expect(statSync(file).size).toBe(0);
    const retried = await patch(app, location, 0, image);
    expect(retried.status).toBe(204);
    expect(retried.headers.get('upload-offset')).toBe('1000');
  });

  it('a body running past Upload-Length after the last needed byte: 413, and the upload, complete on disk, is verified', async () => {
    const image = randomBytes(1000);
    const { app, location, file } = await createUpload(image);
    const overLong = openPatch(app, location, 0, 'chunked');
    overLong.request.write(image);
    await waitFor('every byte of the image on disk', () => statSync(file).size === image.length);
    overLong.request.end(Buffer.from('extra'));
    expect((await overLong.response).statusCode).toBe(413);
    expect(await offsetOf(app, location)).toBe(image.length);
    expect(sha256Of(readFileSync(file))).toBe(sha256Of(image));
    const listed = (await (await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).json()) as { images: { sha256: string }[] };
    expect(listed.images.map((entry) => entry.sha256)).toEqual([sha256Of(image)]);
  });

  it('the same with bytes that do not match the announced SHA-256: 460 and the upload deleted', async () => {
    const image = randomBytes(1000);
    const { app, location, file } = await createUpload(image, sha256Of(Buffer.from('another image')));
    const overLong = openPatch(app, location, 0, 'chunked');
    overLong.request.write(image);
    await waitFor('every byte of the image on disk', () => statSync(file).size === image.length);
    overLong.request.end(Buffer.from('extra'));
    const answer = await overLong.response;
    const body = await new Promise<string>((resolve) => {
      let text = '';
      answer.on('data', (chunk: Buffer) => (text += chunk.toString()));
      answer.on('end', () => resolve(text));
    });
    expect({ status: answer.statusCode, code: (JSON.parse(body) as { code: string }).code }).toEqual({ status: 460, code: 'CHECKSUM_MISMATCH' });
    expect(() => statSync(file)).toThrow();
  });

  it('a HEAD of an upload complete on disk but never verified (the relay stopped in between) verifies it', async () => {
    const image = randomBytes(5000);
    const { app, location, file } = await createUpload(image);
    // every byte reached the file, the check did not run
    writeFileSync(file, image);
    const head = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: vic } });
    expect({ status: head.status, offset: head.headers.get('upload-offset') }).toEqual({ status: 200, offset: '5000' });
    const listed = (await (await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).json()) as { images: { sha256: string }[] };
    expect(listed.images.map((entry) => entry.sha256)).toEqual([sha256Of(image)]);
  });

  it('such an upload whose bytes do not match: the HEAD answers 460 and the upload is deleted (a tus client starts anew)', async () => {
    const image = randomBytes(5000);
    const { app, location, file } = await createUpload(image, sha256Of(Buffer.from('another image')));
    writeFileSync(file, image);
    const head = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: operator } });
    expect(head.status).toBe(460);
    expect(() => statSync(file)).toThrow();
  });
});
