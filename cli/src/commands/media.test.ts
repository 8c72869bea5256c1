import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type MediaState, MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { RelayApi } from '../api.js';
import { staticTokenSource } from '../auth/session.js';
import { ExitCode } from '../exit-codes.js';
import { type SeenRequest, type StubAnswer, relayStubs, runCli } from '../testing/relay-stub.js';
import { uploadFile } from '../upload.js';
import { scratchDirectories } from '@lightsout/lab/scratch';

const relays = relayStubs();
const scratch = scratchDirectories('lightsout-cli-media-');
// The config dirs hold tus's resume state (uploads.json), which tus-js-client still writes after
// a refused upload has settled: they are removed once the file's tests are done, not under it.
const configDirs = scratchDirectories('lightsout-cli-media-config-');
afterEach(async () => {
  await relays.closeAll();
  scratch.removeAll();
});
afterAll(() => configDirs.removeAll());

const IDLE: MediaState = { serverId: 'web-01', step: 'idle', message: 'no media', image: null, mountedAt: null, mountedBy: null, autoEjectAt: null, progress: null, failedStep: null, error: null, revision: 0 };
const STEP_UP_REQUIRED: StubAnswer = {
  status: 401,
  headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", max_age=600' },
  body: { code: 'STEP_UP_REQUIRED', message: 'this action needs a recent sign-in', details: { maxAge: 600 } },
};

/**
 * The relay's media routes and tus endpoint: an upload is created as up-1 and
 * takes PATCHes at its offset; a mount is answered by `mount`.
 */
function mediaRelay(mount: (request: SeenRequest) => StubAnswer) {
  let offset = 0;
  return relays.start((request) => {
    if (request.method === 'GET' && request.url === '/v1/servers/web-01/media') return { status: 200, body: IDLE };
    if (request.method === 'GET' && request.url === '/v1/media/images?server=web-01') return { status: 200, body: { images: [] } };
    if (request.method === 'POST' && request.url === MEDIA_UPLOADS_PATH) return { status: 201, headers: { location: `${MEDIA_UPLOADS_PATH}/up-1`, 'tus-resumable': '1.0.0' } };
    if (request.method === 'PATCH') {
      offset += (request.body as Buffer | undefined)?.length ?? 0;
      return { status: 204, headers: { 'upload-offset': String(offset), 'tus-resumable': '1.0.0' } };
    }
    if (request.method === 'POST' && request.url === '/v1/servers/web-01/media') return mount(request);
    return { status: 404, body: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } };
  });
}

function imageFile(bytes: number): string {
  const file = join(scratch.make(), 'image.iso');
  writeFileSync(file, randomBytes(bytes));
  return file;
}

describe('lightsout media mount', () => {
  it('asks for the mount before sending a byte: a sign-in too old for it (and no way to sign in again) costs no upload', async () => {
    const relay = await mediaRelay(() => STEP_UP_REQUIRED);
    const result = await runCli(['media', 'mount', 'web-01', imageFile(256 * 1024)], relay.url, { env: { LIGHTSOUT_TOKEN: 'stale', LIGHTSOUT_CONFIG_DIR: configDirs.make() } });
    expect(result.code).toBe(ExitCode.AUTH);
    expect(result.stderr).toContain('error STEP_UP_REQUIRED: this action needs a recent sign-in\n');
    expect(relay.seen.map((request) => `${request.method} ${request.url}`)).toEqual([
      'GET /v1/servers/web-01/media',
      'GET /v1/media/images?server=web-01',
      `POST ${MEDIA_UPLOADS_PATH}`,
      'POST /v1/servers/web-01/media',
    ]);
  });

  it('after a step-up, the upload carries the fresh token and starts only once the mount was accepted', async () => {
    const relay = await mediaRelay((request) => (request.authorization === 'Bearer fresh' ? { status: 202, body: { ...IDLE, step: 'transferring', message: 'waiting for the upload' } } : STEP_UP_REQUIRED));
    const api = new RelayApi(relay.url, staticTokenSource('stale'), async () => staticTokenSource('fresh'));
    const file = imageFile(300 * 1024);
    const uploadId = await uploadFile({
      api,
      file,
      size: 300 * 1024,
      sha256: '0'.repeat(64),
      serverId: 'web-01',
      env: { LIGHTSOUT_CONFIG_DIR: configDirs.make() },
      output: { out: () => undefined, err: () => undefined },
      onProgress: () => undefined,
      beforeBytes: (id) => api.post(`/v1/servers/web-01/media`, { uploadId: id, boot: false }),
    });
    expect(uploadId).toBe('up-1');
    expect(relay.seen.map((request) => `${request.method} ${request.url} ${request.authorization}`)).toEqual([
      `POST ${MEDIA_UPLOADS_PATH} Bearer stale`,
      'POST /v1/servers/web-01/media Bearer stale',
      'POST /v1/servers/web-01/media Bearer fresh',
      `PATCH ${MEDIA_UPLOADS_PATH}/up-1 Bearer fresh`,
    ]);
    expect((relay.seen.at(-1)!.body as Buffer).length).toBe(300 * 1024);
  });

  it('shows no "to agent 0%" bar when the agent already has the image: no byte moves, so no bar', async () => {
    const file = imageFile(64 * 1024);
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    const image = { filename: 'image.iso', sha256, size: 64 * 1024 };
    let mountAsked = false;
    const relay = await relays.start((request) => {
      if (request.method === 'GET' && request.url === '/v1/servers/web-01/media') {
        return { status: 200, body: mountAsked ? { ...IDLE, step: 'mounted', message: 'mounted image.iso', image, mountedAt: '2026-12-05T10:00:00Z', mountedBy: 'olga' } : IDLE };
      }
      if (request.method === 'GET' && request.url === '/v1/media/images?server=web-01') return { status: 200, body: { images: [{ uploadId: 'up-9', ...image, uploadedBy: 'olga', createdAt: null }] } };
      if (request.method === 'POST' && request.url === '/v1/servers/web-01/media') {
        mountAsked = true;
        // The relay's first answer: transferring, nothing moved yet (the agent's cache has it, so nothing will).
        return { status: 202, body: { ...IDLE, step: 'transferring', message: 'checking the agent cache', image, progress: { bytes: 0, total: 64 * 1024 } } };
      }
      return { status: 404, body: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } };
    });
    const result = await runCli(['media', 'mount', 'web-01', file], relay.url, { env: { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_CONFIG_DIR: configDirs.make() } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('already uploaded for this server');
    expect(result.stderr).not.toMatch(/to agent/);
    expect(result.stdout).toBe('web-01: mounted image.iso\n');
  });
});

/**
 * A relay whose agent already holds the image (no upload): the mount is
 * accepted, then the job ends as `outcome` says, read by the CLI's poll.
 */
async function cachedImageRelay(file: string, outcome: (body: Record<string, unknown>) => Partial<MediaState>) {
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const image = { filename: 'image.iso', sha256, size: readFileSync(file).length };
  let asked: Record<string, unknown> | undefined;
  const relay = await relays.start((request) => {
    if (request.method === 'GET' && request.url === '/v1/servers/web-01/media') return { status: 200, body: asked ? { ...IDLE, image, ...outcome(asked) } : IDLE };
    if (request.method === 'GET' && request.url === '/v1/media/images?server=web-01') return { status: 200, body: { images: [{ uploadId: 'up-9', ...image, uploadedBy: 'olga', createdAt: null }] } };
    if (request.method === 'POST' && request.url === '/v1/servers/web-01/media') {
      asked = request.body as Record<string, unknown>;
      return { status: 202, body: { ...IDLE, step: 'mounting', message: 'mounting the image on the BMC', image } };
    }
    return { status: 404, body: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } };
  });
  return { relay, mountBodies: () => relay.seen.filter((request) => request.method === 'POST').map((request) => request.body) };
}

describe('lightsout media mount: only what the BMC was seen doing', () => {
  it('fails with MEDIA_NOT_FETCHED (exit 5, the step, the hint) when the BMC took the image but never read it, and never says it boots', async () => {
    const file = imageFile(32 * 1024);
    const { relay } = await cachedImageRelay(file, () => ({
      step: 'failed',
      failedStep: 'mounting',
      message: 'failed while mounting the image on the BMC',
      error: { code: 'MEDIA_NOT_FETCHED', message: 'the BMC accepted the image but did not read it within 30 s, and does not report it connected (ConnectedVia: NotConnected)' },
    }));
    const result = await runCli(['media', 'mount', 'web-01', file, '--boot'], relay.url, { env: { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_CONFIG_DIR: configDirs.make() } });
    expect(result.code).toBe(ExitCode.UNAVAILABLE);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toMatch(/booting/);
    expect(result.stderr).toMatch(/^error MEDIA_NOT_FETCHED: failed while mounting the image on the BMC: the BMC accepted the image but did not read it within 30 s/m);
    expect(result.stderr).toMatch(/^hint: the BMC never read the image/m);
  });

  it('says so and exits 6 when the BMC kept boot-from-CD persistent, and media status shows it', async () => {
    const file = imageFile(32 * 1024);
    const warning = 'the BMC kept boot from the virtual CD persistent instead of for the next boot only; the previous override is restored when the image is ejected';
    const { relay } = await cachedImageRelay(file, () => ({ step: 'booting', message: 'booting from virtual media', mountedAt: '2026-12-05T10:00:00Z', mountedBy: 'olga', warning }));
    const env = { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_CONFIG_DIR: configDirs.make() };
    const result = await runCli(['media', 'mount', 'web-01', file, '--boot'], relay.url, { env });
    expect(result.code).toBe(ExitCode.BMC_DIFFERS);
    expect(result.stdout).toBe('web-01: booting from virtual media\n');
    expect(result.stderr).toContain(`warning: web-01: ${warning}\n`);
    const status = await runCli(['media', 'status', 'web-01'], relay.url, { env });
    expect(status.stdout).toContain(`warning:    ${warning}\n`);
  });

  it('leaves an image someone else inserted in place (MEDIA_IN_USE and the hint) until asked with --replace', async () => {
    const file = imageFile(32 * 1024);
    const { relay, mountBodies } = await cachedImageRelay(file, (body) =>
      body['replace'] === true
        ? { step: 'mounted', message: 'mounted image.iso', mountedAt: '2026-12-05T10:00:00Z', mountedBy: 'olga' }
        : { step: 'failed', failedStep: 'mounting', message: 'failed while mounting the image on the BMC', error: { code: 'MEDIA_IN_USE', message: 'the virtual CD holds http://10.0.0.7/installer.iso, which this agent did not insert' } },
    );
    const env = { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_CONFIG_DIR: configDirs.make() };
    const refused = await runCli(['media', 'mount', 'web-01', file], relay.url, { env });
    expect(refused.code).toBe(ExitCode.ERROR);
    expect(refused.stderr).toMatch(/^error MEDIA_IN_USE: .*installer\.iso/m);
    expect(refused.stderr).toMatch(/^hint: mount with --replace/m);
    const replaced = await runCli(['media', 'mount', 'web-01', file, '--replace'], relay.url, { env });
    expect(replaced.code, replaced.stderr).toBe(ExitCode.OK);
    expect(replaced.stdout).toBe('web-01: mounted image.iso\n');
    expect(mountBodies()).toEqual([
      { uploadId: 'up-9', boot: false },
      { uploadId: 'up-9', boot: false, replace: true },
    ]);
  });
});
