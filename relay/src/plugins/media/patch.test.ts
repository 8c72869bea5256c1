import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
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

  it('hands the upload over to a newer request (a client resuming) instead of leaving it locked', async () => {
    const image = randomBytes(1024 * 1024);
    const { app, location, file } = await createUpload(image);
    const stale = openPatch(app, location, 0, image.length);
    stale.request.write(image.subarray(0, 300_000));
    await waitFor('the stale request to store its bytes', () => statSync(file).size === 300_000);
    // the HEAD of a resuming client takes the lock: the stale PATCH ends where its bytes ended
    expect(await offsetOf(app, location)).toBe(300_000);
    expect((await stale.response).statusCode).toBe(204);
    stale.request.destroy();
    expect((await patch(app, location, 300_000, image.subarray(300_000))).status).toBe(204);
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
});
