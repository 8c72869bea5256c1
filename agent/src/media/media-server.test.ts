import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaCache } from './cache.js';
import { type MediaAccess, MediaServer } from './media-server.js';
import { MediaUrlSigner } from './url-signer.js';

const run = promisify(execFile);
let directory: string;
let server: MediaServer;
let clock = Date.now();
const accesses: MediaAccess[] = [];
const bytes = randomBytes(300_000);
const sha256 = createHash('sha256').update(bytes).digest('hex');

/** curl, the standard client: returns the HTTP status and the body it saved. */
async function curl(url: string, extra: string[] = []): Promise<{ status: number; body: Buffer }> {
  const output = join(directory, `out-${randomBytes(4).toString('hex')}`);
  const { stdout } = await run('curl', ['-s', '-o', output, '-w', '%{http_code}', '--path-as-is', ...extra, url]);
  let body = Buffer.alloc(0);
  try {
    body = readFileSync(output);
  } catch {
    // no body written
  }
  return { status: Number(stdout), body };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'media-server-'));
  const cache = new MediaCache({ directory: join(directory, 'cache'), maxBytes: 1 << 24 });
  await cache.open();
  await cache.ingest(sha256, bytes.length, Readable.from([bytes]));
  server = new MediaServer({ cache, signer: new MediaUrlSigner(randomBytes(32)), host: '127.0.0.1', onAccess: (access) => accesses.push(access), now: () => clock });
  await server.start();
});
afterAll(async () => {
  await server.stop();
  rmSync(directory, { recursive: true, force: true });
});

describe('media server (fetched with curl)', () => {
  it('serves the whole image and byte ranges to the BMC it was issued to', async () => {
    const url = server.urlFor(sha256, '127.0.0.1', 600);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/media\/\d+\/127\.0\.0\.1\/[\w-]{43}\/[0-9a-f]{64}\.iso$/);
    const whole = await curl(url);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytes)).toBe(true);
    const middle = await curl(url, ['-r', '1000-1999']);
    expect(middle.status).toBe(206);
    expect(middle.body.equals(bytes.subarray(1000, 2000))).toBe(true);
    const tail = await curl(url, ['-r', '-10']);
    expect(tail.body.equals(bytes.subarray(bytes.length - 10))).toBe(true);
    expect((await curl(url, ['-r', `${bytes.length}-`])).status).toBe(416);
    const head = await run('curl', ['-sI', url]);
    expect(head.stdout).toMatch(/Accept-Ranges: bytes/i);
    expect(head.stdout).toMatch(new RegExp(`Content-Length: ${bytes.length}`, 'i'));
    expect(accesses.filter((access) => access.status === 206).map((access) => access.range)).toContain('bytes=1000-1999');
  });

  it('ends the URL in the user\'s file name (BMCs show it as the image name), made URL-safe, and serves it', async () => {
    const url = server.urlFor(sha256, '127.0.0.1', 600, 'Ubuntu 24.04 (server).iso');
    expect(url).toMatch(new RegExp(`/${sha256}/Ubuntu_24.04__server_\\.iso$`));
    expect((await curl(url)).status).toBe(200);
    expect(server.urlFor(sha256, '127.0.0.1', 600, '../../etc/passwd')).toMatch(/\/passwd\.iso$/);
    expect(server.urlFor(sha256, '127.0.0.1', 600, '.hidden')).toMatch(/\/hidden\.iso$/);
    // another name on the same signature is still the same image: the name is not a capability
    expect((await curl(url.replace(/[^/]+$/, 'renamed.iso'))).status).toBe(200);
    expect((await curl(url.replace(/[^/]+$/, '..%2F..%2Fx.iso'))).status).toBe(404);
  });

  it('binds the URL to the source address of the BMC', async () => {
    const url = server.urlFor(sha256, '127.0.0.2', 600);
    expect((await curl(url)).status).toBe(403); // curl connects from 127.0.0.1
    const fromBmc = await curl(url, ['--interface', '127.0.0.2']);
    expect(fromBmc.status).toBe(200);
    expect(fromBmc.body.equals(bytes)).toBe(true);
    expect(accesses.some((access) => access.status === 403 && access.reason?.startsWith('issued to 127.0.0.2'))).toBe(true);
  });

  it('refuses an expired URL with 403', async () => {
    const url = server.urlFor(sha256, '127.0.0.1', 60);
    expect((await curl(url)).status).toBe(200);
    clock += 61_000;
    expect((await curl(url)).status).toBe(403);
    expect(accesses.at(-1)).toMatchObject({ status: 403, reason: 'expired' });
  });

  it('refuses a forged or altered signature with 403', async () => {
    const url = server.urlFor(sha256, '127.0.0.1', 600);
    const longer = url.replace(/\/media\/(\d+)\//, (_all, expires: string) => `/media/${Number(expires) + 100000}/`);
    expect((await curl(longer)).status).toBe(403);
    const anyClient = url.replace('/127.0.0.1/', '/any/');
    expect((await curl(anyClient)).status).toBe(403);
    const otherImage = url.replace(/[0-9a-f]{64}\.iso$/, `${'0'.repeat(64)}.iso`);
    expect((await curl(otherImage)).status).toBe(403);
  });

  it('answers path traversal and unknown paths with 404, never a file', async () => {
    const base = server.urlFor(sha256, '127.0.0.1', 600).replace(/\/media\/.*$/, '');
    for (const path of ['/media/../../../../etc/passwd', '/media/%2e%2e/%2e%2e/etc/passwd', `/media/1/127.0.0.1/x/..%2f..%2fetc%2fpasswd.iso`, '/etc/passwd', `/${sha256}.iso`]) {
      const response = await curl(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.body.toString()).not.toContain('root:');
    }
    const post = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', server.urlFor(sha256, '127.0.0.1', 600)]);
    expect(post.stdout).toBe('405');
  });
});
