import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { RelayApi } from './api.js';
import { staticTokenSource } from './auth/session.js';
import { relayStubs } from './testing/relay-stub.js';
import { uploadFile } from './upload.js';

const relays = relayStubs();
const scratch = scratchDirectories('lightsout-cli-routes-');
const configDirs = scratchDirectories('lightsout-cli-routes-config-');
afterEach(async () => {
  await relays.closeAll();
  scratch.removeAll();
});
afterAll(() => configDirs.removeAll());

const ID = 'ab'.repeat(16);
const tus = { 'tus-resumable': '1.0.0' };

describe('an upload follows its agent to another gateway', () => {
  it('refused by the gateway it was created on (421: the agent moved), the next HEAD asks the deployment and the bytes go to the gateway it names', async () => {
    const size = 200 * 1024;
    let patchedAtNew = 0;
    const moved = await relays.start((request) => {
      if (request.method === 'PATCH' && request.url === `${MEDIA_UPLOADS_PATH}/${ID}`) {
        patchedAtNew = (request.body as Buffer).length;
        return { status: 204, headers: { ...tus, 'upload-offset': String(size) } };
      }
      return { status: 404, body: { code: 'NOT_FOUND', message: 'not here' } };
    });
    const first = await relays.start((request) =>
      request.method === 'PATCH' ? { status: 421, headers: tus, body: { code: 'WRONG_GATEWAY', message: 'the agent this upload goes to is connected to another gateway' } } : { status: 404, body: { code: 'NOT_FOUND', message: 'not here' } },
    );
    const deployment = await relays.start((request) => {
      if (request.method === 'POST' && request.url === MEDIA_UPLOADS_PATH) return { status: 201, headers: { ...tus, location: `${first.url}${MEDIA_UPLOADS_PATH}/${ID}` } };
      if (request.method === 'HEAD' && request.url === `${MEDIA_UPLOADS_PATH}/${ID}`) {
        return { status: 200, headers: { ...tus, 'upload-offset': '0', 'upload-length': String(size), 'lightsout-upload-url': `${moved.url}${MEDIA_UPLOADS_PATH}/${ID}` } };
      }
      return { status: 404, body: { code: 'NOT_FOUND', message: 'no route' } };
    });
    const file = join(scratch.make(), 'image.iso');
    writeFileSync(file, randomBytes(size));
    const uploadId = await uploadFile({
      api: new RelayApi(deployment.url, staticTokenSource('token')),
      file,
      size,
      sha256: '0'.repeat(64),
      serverId: 'web-01',
      env: { LIGHTSOUT_CONFIG_DIR: configDirs.make() },
      output: { out: () => undefined, err: () => undefined },
      onProgress: () => undefined,
      beforeBytes: async () => undefined,
    });
    expect(uploadId).toBe(ID);
    expect(first.seen.map((request) => request.method)).toEqual(['PATCH']);
    expect(deployment.seen.map((request) => `${request.method} ${request.url}`)).toEqual([`POST ${MEDIA_UPLOADS_PATH}`, `HEAD ${MEDIA_UPLOADS_PATH}/${ID}`]);
    expect(patchedAtNew).toBe(size);
    // the upload names its server (the agent whose cache stores it)
    expect(deployment.seen[0]!.headers['upload-metadata']).toContain(`server ${Buffer.from('web-01').toString('base64')}`);
  });
});
