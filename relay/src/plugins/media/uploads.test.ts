import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';
import { displayName } from './uploads.js';

const apps: MediaTestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
let operator: string, gus: string, vic: string;
beforeAll(async () => {
  operator = await mediaAuthorization('acme', 'operator', 'olga');
  gus = await mediaAuthorization('globex', 'operator', 'gus');
  vic = await mediaAuthorization('acme', 'viewer', 'vic');
});

const tus = { 'Tus-Resumable': '1.0.0' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function start(options: Parameters<typeof startMediaApp>[0] = {}) {
  const app = await startMediaApp(options);
  apps.push(app);
  return app;
}

async function create(app: MediaTestApp, size: number, sha256: string, filename = 'rescue.iso', auth = operator): Promise<Response> {
  return fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, {
    method: 'POST',
    headers: { ...tus, Authorization: auth, 'Upload-Length': String(size), 'Upload-Metadata': `filename ${b64(filename)},sha256 ${b64(sha256)}` },
  });
}

async function offsetOf(app: MediaTestApp, location: string, auth = operator): Promise<number> {
  const response = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: auth } });
  expect(response.status).toBe(200);
  return Number(response.headers.get('upload-offset'));
}

async function patch(app: MediaTestApp, location: string, offset: number, body: Uint8Array, auth = operator): Promise<Response> {
  return fetch(`${app.url}${location}`, {
    method: 'PATCH',
    headers: { ...tus, Authorization: auth, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body,
  });
}

/**
 * Sends bytes [offset, cutAt) of a PATCH and then kills the connection, as a
 * network cut would, once the relay has those bytes on disk.
 */
async function patchAndCut(app: MediaTestApp, location: string, image: Buffer, offset: number, cutAt: number): Promise<void> {
  const file = join(app.directory, location.split('/').pop()!);
  const request = httpRequest(`${app.url}${location}`, {
    method: 'PATCH',
    headers: { ...tus, Authorization: operator, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(image.length - offset) },
  });
  request.on('error', () => undefined);
  request.write(image.subarray(offset, cutAt));
  await waitFor(`relay to store ${cutAt} bytes`, () => statSync(file).size === cutAt);
  request.destroy();
}

describe('tus upload endpoint', () => {
  it('stores an upload cut at 30% and 60% with relay restarts in between, and verifies the SHA-256', async () => {
    const app = await start();
    const image = randomBytes(3 * 1024 * 1024 + 17);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const created = await create(app, image.length, sha256);
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^\/v1\/media\/uploads\/[0-9a-f]{32}$/);

    const at30 = Math.floor(image.length * 0.3);
    await patchAndCut(app, location, image, 0, at30);
    await app.restart();
    expect(await offsetOf(app, location)).toBe(at30);

    const at60 = Math.floor(image.length * 0.6);
    await patchAndCut(app, location, image, at30, at60);
    await app.restart();
    expect(await offsetOf(app, location)).toBe(at60);

    const finished = await patch(app, location, at60, image.subarray(at60));
    expect(finished.status).toBe(204);
    const stored = readFileSync(join(app.directory, location.split('/').pop()!));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(sha256);

    const listed = (await (await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).json()) as { images: { filename: string }[] };
    expect(listed.images).toEqual([expect.objectContaining({ sha256, size: image.length, filename: 'rescue.iso', uploadedBy: 'olga' })]);
  });

  it('refuses and deletes an upload whose bytes do not match the announced SHA-256', async () => {
    const app = await start();
    const image = randomBytes(100_000);
    const wrong = createHash('sha256').update('something else').digest('hex');
    const location = (await create(app, image.length, wrong)).headers.get('location')!;
    const response = await patch(app, location, 0, image);
    expect(response.status).toBe(460);
    expect(await response.json()).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(readdirSync(app.directory)).toEqual([]);
  });

  it('refuses an upload over the tenant quota with a clear error and leaves nothing behind', async () => {
    const app = await start({ tenantQuotaBytes: 1_000_000 });
    const sha = createHash('sha256').update('x').digest('hex');
    const first = await create(app, 600_000, sha);
    expect(first.status).toBe(201);
    const before = readdirSync(app.directory).sort();
    const refused = await create(app, 500_000, sha);
    expect(refused.status).toBe(413);
    const body = (await refused.json()) as { hint: string };
    expect(body).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { used: 600_000, quota: 1_000_000, size: 500_000 } });
    expect(body.hint).toMatch(/quota/);
    expect(readdirSync(app.directory).sort()).toEqual(before);
    // another tenant has its own quota
    expect((await create(app, 500_000, sha, 'other.iso', gus)).status).toBe(201);
  });

  it('refuses an upload over the size limit and one without a SHA-256', async () => {
    const app = await start({ maxUploadBytes: 1000 });
    const sha = createHash('sha256').update('x').digest('hex');
    expect((await create(app, 1001, sha)).status).toBe(413);
    const missing = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, { method: 'POST', headers: { ...tus, Authorization: operator, 'Upload-Length': '10' } });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(readdirSync(app.directory)).toEqual([]);
  });

  it('needs an authenticated operator, and hides uploads from other tenants', async () => {
    const app = await start();
    const sha = createHash('sha256').update('x').digest('hex');
    expect((await create(app, 10, sha, 'a.iso', '')).status).toBe(401);
    expect((await create(app, 10, sha, 'a.iso', vic)).status).toBe(403);
    const location = (await create(app, 10, sha)).headers.get('location')!;
    const foreign = await fetch(`${app.url}${location}`, { method: 'HEAD', headers: { ...tus, Authorization: gus } });
    expect(foreign.status).toBe(404);
    expect((await patch(app, location, 0, Buffer.from('0123456789'), gus)).status).toBe(404);
  });

  it('never uses the client file name as a path (traversal), nor accepts ids that are not ours', async () => {
    const app = await start();
    const image = Buffer.from('hello iso');
    const sha256 = createHash('sha256').update(image).digest('hex');
    const location = (await create(app, image.length, sha256, '../../../../etc/passwd')).headers.get('location')!;
    expect((await patch(app, location, 0, image)).status).toBe(204);
    const files = readdirSync(app.directory);
    expect(files.every((name) => /^[0-9a-f]{32}(\.json)?$/.test(name))).toBe(true);
    const listed = (await (await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).json()) as { images: { filename: string }[] };
    expect(listed.images[0].filename).toBe('passwd');
    for (const path of ['/..%2F..%2Fetc%2Fpasswd', '/../../etc/passwd', '/%2e%2e', `/${'0'.repeat(31)}g`]) {
      const response = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}${path}`, { method: 'HEAD', headers: { ...tus, Authorization: operator } });
      expect([404, 400], path).toContain(response.status);
    }
  });

  it('the sweep of expired uploads removes an unfinished one and keeps a verified one (tus expiration: unfinished uploads only)', async () => {
    const app = await start({ sweepIntervalMs: 50 });
    const image = randomBytes(4096);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const verified = (await create(app, image.length, sha256)).headers.get('location')!.split('/').pop()!;
    expect((await patch(app, `${MEDIA_UPLOADS_PATH}/${verified}`, 0, image)).status).toBe(204);
    const unfinished = (await create(app, image.length, sha256)).headers.get('location')!.split('/').pop()!;
    expect((await patch(app, `${MEDIA_UPLOADS_PATH}/${unfinished}`, 0, image.subarray(0, 100))).status).toBe(204);
    // both created two days ago: past the 24 h expiry
    for (const id of [verified, unfinished]) {
      const record = JSON.parse(readFileSync(join(app.directory, `${id}.json`), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(app.directory, `${id}.json`), JSON.stringify({ ...record, creation_date: new Date(Date.now() - 48 * 3600_000).toISOString() }));
    }
    // one sweep judges both
    await waitFor('the sweep to remove the unfinished upload', () => !existsSync(join(app.directory, unfinished)) && !existsSync(join(app.directory, `${unfinished}.json`)));
    expect(readdirSync(app.directory).sort()).toEqual([verified, `${verified}.json`]);
    const listed = (await (await fetch(`${app.url}/v1/media/images`, { headers: { Authorization: operator } })).json()) as { images: { uploadId: string }[] };
    expect(listed.images.map((entry) => entry.uploadId)).toEqual([verified]);
  });

  it('uploads created at once never take more than the quota together', async () => {
    const app = await start({ tenantQuotaBytes: 1000, maxUploadBytes: 1000 });
    const sha = createHash('sha256').update('x').digest('hex');
    for (const size of [1000, 300]) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => create(app, size, sha).then(async (response) => (response.status === 201 ? 'created' : ((await response.json()) as { code: string }).code))));
      const created = answers.filter((answer) => answer === 'created').length;
      // what the first round took is still held: 1000 of 1000, so the second round has no room
      expect({ size, created, refused: answers.filter((answer) => answer === 'QUOTA_EXCEEDED').length }).toEqual({ size, created: size === 1000 ? 1 : 0, refused: size === 1000 ? 9 : 10 });
    }
  });

  it('uploads of a tenant with room for three, created at once: exactly three', async () => {
    const app = await start({ tenantQuotaBytes: 1000, maxUploadBytes: 1000 });
    const sha = createHash('sha256').update('x').digest('hex');
    const answers = await Promise.all(Array.from({ length: 10 }, () => create(app, 300, sha)));
    expect(answers.map((response) => response.status).sort()).toEqual([201, 201, 201, 413, 413, 413, 413, 413, 413, 413]);
  });

  it('shows a file name without control, bidi or other format characters nor line breaks, at most 255 code points', () => {
    expect(displayName('invoice\u202Eosi.exe')).toBe('invoiceosi.exe');
    expect(displayName('a\u001b[31mred\u009b31m')).toBe('a[31mred31m');
    expect(displayName('zero\u200Bwidth\u2066isolate\u2069\uFEFF')).toBe('zerowidthisolate');
    expect(displayName('line\u2028break\u2029')).toBe('linebreak');
    expect(displayName('../../etc/passwd')).toBe('passwd');
    expect(displayName('\u202E')).toBe('image.iso');
    const long = displayName(`${'😀'.repeat(300)}.iso`);
    expect([...long]).toHaveLength(255);
    expect(long).toBe('😀'.repeat(255));
  });

  it('refuses an empty upload (VALIDATION_FAILED), and a 101st unfinished upload of a tenant (QUOTA_EXCEEDED)', async () => {
    const app = await start();
    const sha = createHash('sha256').update('x').digest('hex');
    const empty = await create(app, 0, createHash('sha256').digest('hex'));
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(readdirSync(app.directory)).toEqual([]);
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all(Array.from({ length: 25 }, () => create(app, 1, sha)));
      expect(answers.map((response) => response.status)).toEqual(Array.from({ length: 25 }, () => 201));
    }
    const over = await create(app, 1, sha);
    expect(over.status).toBe(413);
    expect(await over.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { open: 100, maxOpen: 100 } });
    // another tenant's uploads are its own
    expect((await create(app, 1, sha, 'other.iso', gus)).status).toBe(201);
  });
});
