import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageServer } from '@lightsout/lab/image-server';
import { LightsoutError, type MediaFetchUrlParams } from '@lightsout/shared';
import { MediaCache } from './cache.js';
import { FINISHED_FETCHES_KEPT, FINISHED_FETCH_KEEP_MS, MediaUrlFetches } from './url-fetch.js';

/**
 * Mount by URL at the agent, against a real HTTP server on loopback
 * (lab's ImageServer): what the tenant's policy allows is fetched, hashed
 * and cached like an upload; a redirect to a host it does not allow, or a
 * name that resolves to an internal address, ends the fetch before a byte
 * is asked of the refused host; a cut transfer resumes with Range.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const image = randomBytes(3 * 1024 * 1024 + 17);
const sha256 = createHash('sha256').update(image).digest('hex');

async function setup(options: { now?: () => number } = {}) {
  const directory = mkdtempSync(join(tmpdir(), 'media-url-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  const cache = new MediaCache({ directory, maxBytes: 1 << 26 });
  await cache.open();
  const work: Promise<unknown>[] = [];
  const fetches = new MediaUrlFetches(cache, {
    logger: pino({ level: 'silent' }),
    track: (promise) => void work.push(promise),
    agentNetworks: () => [],
    resume: { attempts: 3, wait: async () => undefined },
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  cleanups.push(async () => {
    fetches.abortAll();
    await Promise.allSettled(work);
  });
  const mirror = new ImageServer();
  await mirror.start();
  cleanups.push(() => mirror.stop());
  mirror.serve('/isos/rescue.iso', image);
  /** Starts a fetch and resolves with its final state (the fetch's own promise, not a poll). */
  const fetchOf = async (params: Partial<MediaFetchUrlParams> & { url: string }) => {
    const { fetchId } = fetches.start({ serverId: 'web-01', allow: ['127.0.0.1'], maxBytes: 1 << 26, ...params });
    await Promise.allSettled(work);
    return fetches.of(fetchId)!;
  };
  return { cache, fetches, mirror, fetchOf };
}

describe('mount by URL: the agent fetch', () => {
  it('fetches an allowed URL into the cache, named by its SHA-256, with the file name of the URL', async () => {
    const { cache, mirror, fetchOf } = await setup();
    const state = await fetchOf({ url: `${mirror.url}/isos/rescue.iso` });
    expect(state).toMatchObject({ state: 'cached', sha256, size: image.length, bytes: image.length, filename: 'rescue.iso', resumes: 0 });
    expect(state.hops).toEqual([{ url: `${mirror.url}/isos/rescue.iso`, address: '127.0.0.1', status: 200 }]);
    expect(cache.sizeOf(sha256)).toBe(image.length);
  });

  it('refuses every URL while the policy allows nothing (the default), before any request', async () => {
    const { fetches, mirror } = await setup();
    expect(() => fetches.start({ serverId: 'web-01', url: `${mirror.url}/isos/rescue.iso`, allow: [], maxBytes: 1 << 26 })).toThrow(expect.objectContaining({ code: 'MEDIA_URL_NOT_ALLOWED' }));
    expect(() => fetches.start({ serverId: 'web-01', url: 'ftp://127.0.0.1/rescue.iso', allow: ['127.0.0.1'], maxBytes: 1 << 26 })).toThrow(expect.objectContaining({ code: 'MEDIA_URL_NOT_ALLOWED' }));
    expect(() => fetches.start({ serverId: 'web-01', url: 'file:///etc/passwd', allow: ['127.0.0.1'], maxBytes: 1 << 26 })).toThrow(LightsoutError);
    expect(mirror.requests).toEqual([]);
  });

  it('follows a redirect to an allowed host, and stops at a redirect to a host the policy does not allow without asking it anything', async () => {
    const { mirror, fetchOf } = await setup();
    const other = new ImageServer({ host: '127.0.0.2' });
    await other.start();
    cleanups.push(() => other.stop());
    other.serve('/rescue.iso', image);
    mirror.redirect('/latest.iso', '/isos/rescue.iso', 301);
    mirror.redirect('/elsewhere.iso', `${other.url}/rescue.iso`);

    const followed = await fetchOf({ url: `${mirror.url}/latest.iso` });
    expect(followed).toMatchObject({ state: 'cached', sha256, filename: 'rescue.iso' });
    expect(followed.hops.map((hop) => hop.status)).toEqual([301, 200]);

    const refused = await fetchOf({ url: `${mirror.url}/elsewhere.iso` });
    expect(refused.state).toBe('failed');
    expect(refused.error).toMatchObject({ code: 'MEDIA_URL_NOT_ALLOWED', message: expect.stringContaining('127.0.0.2') });
    expect(refused.hops.map((hop) => hop.status)).toEqual([302]);
    expect(other.requests).toEqual([]);
  });

  it('refuses a host name the policy allows when it resolves to an internal address the policy does not allow by address', async () => {
    const { mirror, fetchOf } = await setup();
    const port = new URL(mirror.url).port;
    const refused = await fetchOf({ url: `http://localhost:${port}/isos/rescue.iso`, allow: ['localhost'] });
    expect(refused.state).toBe('failed');
    expect(refused.error).toMatchObject({ code: 'MEDIA_URL_NOT_ALLOWED', message: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1)/) });
    expect(mirror.requests).toEqual([]);
    // the same name with its address allowed as written is fetched
    const allowed = await fetchOf({ url: `http://localhost:${port}/isos/rescue.iso`, allow: ['localhost', '127.0.0.0/8', '::1'] });
    expect(allowed).toMatchObject({ state: 'cached', sha256 });
  });

  it('refuses a redirect to an internal address literal reached through an allowed name', async () => {
    const { mirror, fetchOf } = await setup();
    mirror.redirect('/metadata.iso', 'http://169.254.169.254/latest/meta-data/');
    const refused = await fetchOf({ url: `${mirror.url}/metadata.iso` });
    expect(refused.error).toMatchObject({ code: 'MEDIA_URL_NOT_ALLOWED' });
  });

  it('resumes a cut transfer with Range and If-Range, and the bytes hash right', async () => {
    const { mirror, fetchOf } = await setup();
    mirror.cutOnce('/isos/rescue.iso', 1024 * 1024);
    const state = await fetchOf({ url: `${mirror.url}/isos/rescue.iso` });
    expect(state).toMatchObject({ state: 'cached', sha256, resumes: 1 });
    const resumed = mirror.requests[1]!;
    expect(resumed.status).toBe(206);
    expect(resumed.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(resumed.range!)![0])).toBeGreaterThan(0);
    expect(resumed.ifRange).toMatch(/^"[0-9a-f]{16}"$/);
  });

  it('refuses an image over the size limit before reading it, and one whose hash is not the one asked for', async () => {
    const { mirror, fetchOf } = await setup();
    const big = await fetchOf({ url: `${mirror.url}/isos/rescue.iso`, maxBytes: 1024 });
    expect(big.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const wrong = await fetchOf({ url: `${mirror.url}/isos/rescue.iso`, sha256: '0'.repeat(64) });
    expect(wrong.error).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    const missing = await fetchOf({ url: `${mirror.url}/isos/absent.iso` });
    expect(missing.error).toMatchObject({ code: 'MEDIA_URL_FETCH_FAILED', message: expect.stringContaining('HTTP 404') });
  });

  it('keeps the same image from two URLs once; fetches nothing for a cached SHA-256 only when the relay vouches the tenant holds it', async () => {
    const { cache, mirror, fetchOf } = await setup();
    mirror.serve('/copy/rescue-copy.iso', image);
    await fetchOf({ url: `${mirror.url}/isos/rescue.iso` });
    const copy = await fetchOf({ url: `${mirror.url}/copy/rescue-copy.iso` });
    expect(copy).toMatchObject({ state: 'cached', sha256 });
    expect(cache.list().map((entry) => entry.sha256)).toEqual([sha256]);
    // A hash alone is no proof of holding the bytes (another tenant's image may be cached): the URL is fetched and checked.
    const before = mirror.requests.length;
    const unproven = await fetchOf({ url: `${mirror.url}/isos/rescue.iso`, sha256 });
    expect(unproven).toMatchObject({ state: 'cached', sha256 });
    expect(mirror.requests.length).toBeGreaterThan(before);
    const vouched = mirror.requests.length;
    const again = await fetchOf({ url: `${mirror.url}/isos/rescue.iso`, sha256, reuseCached: true });
    expect(again).toMatchObject({ state: 'cached', sha256 });
    expect(mirror.requests.length).toBe(vouched);
  });

  it('does not hand a cached image to a mount by URL whose server serves other bytes: a known hash mounts nothing of another tenant\'s', async () => {
    const { mirror, fetchOf } = await setup();
    await fetchOf({ url: `${mirror.url}/isos/rescue.iso` });
    mirror.serve('/isos/other.iso', Buffer.from(image).reverse());
    const claimed = await fetchOf({ url: `${mirror.url}/isos/other.iso`, sha256 });
    expect(claimed).toMatchObject({ state: 'failed' });
  });

  it('forgets a finished fetch once it is an hour old, or past the newest 1,000 finished: the relay reads the outcome at its next poll', async () => {
    let now = 0;
    const { fetches, mirror, fetchOf } = await setup({ now: () => now });
    const first = await fetchOf({ url: `${mirror.url}/isos/rescue.iso` });
    expect(first).toMatchObject({ state: 'cached', sha256 });
    const vouched = (): string => fetches.start({ serverId: 'web-01', allow: ['127.0.0.1'], maxBytes: 1 << 26, url: `${mirror.url}/isos/rescue.iso`, sha256, reuseCached: true }).fetchId;
    const ids = [first.fetchId];
    now = FINISHED_FETCH_KEEP_MS - 1;
    for (let index = 1; index < FINISHED_FETCHES_KEPT; index++) ids.push(vouched());
    expect(ids.every((id) => fetches.of(id)?.state === 'cached')).toBe(true);
    // One more finished fetch: the oldest goes.
    ids.push(vouched());
    expect(fetches.of(ids[0]!)).toBeNull();
    expect(fetches.of(ids[1]!)).toMatchObject({ state: 'cached' });
    // An hour after they finished, the rest go too (at the next fetch).
    now = 2 * FINISHED_FETCH_KEEP_MS;
    const latest = vouched();
    expect(ids.filter((id) => fetches.of(id) !== null)).toEqual([]);
    expect(fetches.of(latest)).toMatchObject({ state: 'cached' });
  });
});
