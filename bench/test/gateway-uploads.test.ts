import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { seededBytes } from '@lightsout/integration/bmc-peers';
import { eventually, until } from '../lib/processes.js';
import { STACK_PASSWORD, type Stack, startStack } from '../lib/stack.js';
import { WEB_CONSOLE_ROOT, launchChromium, signIn } from '../lib/web-console.js';

/**
 * Uploads into the agent's cache (docs/virtual-media.md "Uploads into the
 * agent"), as processes: raw tus over HTTP to a relay (a single process on
 * SQLite) and to a regional deployment (a manager and two gateways on
 * PostgreSQL). The bytes end up once, in the agent's cache, and nowhere under
 * a relay's data directory; after a kill -9 of the gateway carrying an
 * upload, the client asks the deployment where the upload is now and
 * continues there from the agent's offset — the web console too, in
 * Chromium, signed in at the manager.
 */
/** The image the page makes (this package has no DOM types, so it runs as text): `size` bytes of a pattern, the ISO 9660 volume descriptor magic at sector 16. */
const imageBytes = (size: number) => {
  const bytes = Buffer.alloc(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31) & 0xff;
  bytes.set([0x01, 0x43, 0x44, 0x30, 0x30, 0x31, 0x01], 16 * 2048);
  return bytes;
};
const DROP_IMAGE = `(size) => {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31) & 0xff;
  bytes.set([0x01, 0x43, 0x44, 0x30, 0x30, 0x31, 0x01], 16 * 2048);
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], 'failover.iso', { type: 'application/x-iso9660-image' }));
  return transfer;
}`;
const postgres = postgresForThisFile();
const SERVER = 'vm-01';
const tus = { 'Tus-Resumable': '1.0.0' };
const b64 = (text: string) => Buffer.from(text).toString('base64');
const hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** A Redfish endpoint nobody answers: the server has virtual media as far as the inventory goes, which is all an upload needs. */
const servers = [{ id: SERVER, redfish: { url: 'https://127.0.0.1:9', credentials: 'bmc' } }];
const credentials = [{ id: 'bmc', username: 'admin', passwordEnv: 'BMC_PASSWORD' }];

async function create(url: string, token: string, image: Buffer, serverId = SERVER): Promise<Response> {
  return fetch(`${url}/v1/media/uploads`, {
    method: 'POST',
    headers: { ...tus, authorization: `Bearer ${token}`, 'Upload-Length': String(image.length), 'Upload-Metadata': `filename ${b64('rescue.iso')},sha256 ${b64(hex(image))},server ${b64(serverId)}` },
  });
}

async function head(url: string, token: string): Promise<{ status: number; offset: number; uploadUrl: string | null }> {
  const response = await fetch(url, { method: 'HEAD', headers: { ...tus, authorization: `Bearer ${token}` } });
  return { status: response.status, offset: Number(response.headers.get('upload-offset')), uploadUrl: response.headers.get('lightsout-upload-url') };
}

async function patch(url: string, token: string, offset: number, body: Buffer): Promise<Response> {
  return fetch(url, { method: 'PATCH', headers: { ...tus, authorization: `Bearer ${token}`, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' }, body });
}

/** Every file under `directory` (recursively), for "nothing of the image here". */
function filesUnder(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

const cacheOf = (stack: Stack) => join(stack.directory, 'agent-state', 'media');
/** An upload's partial file in the agent's cache (`<sha256>.upload-<id>.part`), or any write's. */
const partialsOf = (stack: Stack) => readdirSync(cacheOf(stack)).filter((name) => name.includes('.partial-') || name.endsWith('.part'));
const partialSize = (stack: Stack, id?: string) => {
  const partial = partialsOf(stack).find((name) => id === undefined || name.includes(`.upload-${id}.`));
  return partial === undefined ? 0 : statSync(join(cacheOf(stack), partial)).size;
};

describe('an upload into the agent, single process (role all, SQLite)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(servers, { agentCredentials: credentials, agentEnv: { BMC_PASSWORD: 'x' } });
  }, 120_000);
  afterAll(async () => stack?.close());

  it('lands only in the agent cache, byte-exact, in chunks; HEAD gives the agent\'s offset; a wrong offset is 409; the image is listed for that server', { timeout: 120_000 }, async () => {
    const image = seededBytes(6 * 1024 * 1024 + 13, 41);
    const created = await create(stack.relayUrl, stack.operatorToken, image);
    expect(created.status, await created.clone().text()).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^\/v1\/media\/uploads\/[0-9a-f]{32}$/);
    const url = `${stack.relayUrl}${location}`;
    expect(await head(url, stack.operatorToken)).toMatchObject({ status: 200, offset: 0 });

    const third = Math.floor(image.length / 3);
    const first = await patch(url, stack.operatorToken, 0, image.subarray(0, third));
    expect(first.status, await first.clone().text()).toBe(204);
    expect(Number(first.headers.get('upload-offset'))).toBe(third);
    expect(partialSize(stack)).toBe(third);
    expect(await head(url, stack.operatorToken)).toMatchObject({ status: 200, offset: third });

    // The whole rest as the body: the relay answers 409 and reads what is still coming (drain.ts), so the client gets the answer, not EPIPE.
    const wrong = await patch(url, stack.operatorToken, third + 1, image.subarray(third + 1));
    expect(wrong.status).toBe(409);
    expect(await wrong.json()).toMatchObject({ code: 'CONFLICT' });
    const rest = await patch(url, stack.operatorToken, third, image.subarray(third));
    expect(rest.status, await rest.clone().text()).toBe(204);
    expect(Number(rest.headers.get('upload-offset'))).toBe(image.length);

    const cached = join(cacheOf(stack), `${hex(image)}.iso`);
    expect(hex(readFileSync(cached))).toBe(hex(image));
    expect(filesUnder(join(stack.directory, 'relay-data-0', 'media'))).toEqual([]);
    const images = (await (await fetch(`${stack.relayUrl}/v1/media/images?server=${SERVER}`, { headers: { authorization: `Bearer ${stack.operatorToken}` } })).json()) as { images: { uploadId: string; sha256: string }[] };
    expect(images.images).toContainEqual(expect.objectContaining({ uploadId: location.split('/').pop(), sha256: hex(image) }));
  });

  it('wrong bytes: the last PATCH is 460 CHECKSUM_MISMATCH, the upload is gone, and the agent keeps nothing', { timeout: 60_000 }, async () => {
    const image = seededBytes(2 * 1024 * 1024, 42);
    const created = await create(stack.relayUrl, stack.operatorToken, image);
    const url = `${stack.relayUrl}${created.headers.get('location')}`;
    const forged = Buffer.from(image);
    forged[forged.length - 1] ^= 0xff;
    const refused = await patch(url, stack.operatorToken, 0, forged);
    expect(refused.status).toBe(460);
    expect(await refused.json()).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect((await head(url, stack.operatorToken)).status).toBe(404);
    expect(existsSync(join(cacheOf(stack), `${hex(image)}.iso`))).toBe(false);
  });

  it('another tenant\'s upload does not exist for the caller, and an unknown server is refused before anything is created', { timeout: 60_000 }, async () => {
    const image = seededBytes(1024 * 1024, 43);
    const unknown = await create(stack.relayUrl, stack.operatorToken, image, 'no-such-server');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('the same image uploaded twice at once (two tabs) into one agent: each upload proves its own bytes and is verified, a third with wrong bytes is 460, the image is cached once, no partial file left', { timeout: 120_000 }, async () => {
    const image = seededBytes(8 * 1024 * 1024 + 5, 45);
    const forged = Buffer.from(image);
    forged[forged.length - 1] ^= 0xff;
    const urls = await Promise.all([image, image, forged].map(async () => `${stack.relayUrl}${(await create(stack.relayUrl, stack.operatorToken, image)).headers.get('location')}`));
    const bodies = [image, image, forged];
    const half = Math.floor(image.length / 2);
    // interleaved: every upload has half of its bytes in the agent before any sends the rest
    const firsts = await Promise.all(urls.map((url, index) => patch(url, stack.operatorToken, 0, bodies[index]!.subarray(0, half))));
    for (const answer of firsts) expect(answer.status, await answer.clone().text()).toBe(204);
    for (const answer of firsts) expect(Number(answer.headers.get('upload-offset'))).toBe(half);
    const lasts = await Promise.all(urls.map((url, index) => patch(url, stack.operatorToken, half, bodies[index]!.subarray(half))));
    expect(lasts.map((answer) => answer.status)).toEqual([204, 204, 460]);
    expect(lasts.map((answer) => Number(answer.headers.get('upload-offset')))).toEqual([image.length, image.length, 0]);
    expect(await lasts[2]!.json()).toMatchObject({ code: 'CHECKSUM_MISMATCH' });

    expect(readdirSync(cacheOf(stack)).filter((name) => name.startsWith(hex(image)))).toEqual([`${hex(image)}.iso`]);
    expect(hex(readFileSync(join(cacheOf(stack), `${hex(image)}.iso`)))).toBe(hex(image));
    expect(partialsOf(stack)).toEqual([]);
    const ids = urls.map((url) => url.split('/').pop()!);
    const listed = (await (await fetch(`${stack.relayUrl}/v1/media/images?server=${SERVER}`, { headers: { authorization: `Bearer ${stack.operatorToken}` } })).json()) as { images: { uploadId: string }[] };
    expect(listed.images.map((entry) => entry.uploadId)).toEqual(expect.arrayContaining(ids.slice(0, 2)));
    expect(listed.images.map((entry) => entry.uploadId)).not.toContain(ids[2]);
    expect((await head(urls[2]!, stack.operatorToken)).status).toBe(404);
  });

  it('a cancelled upload (tus DELETE) takes its partial file in the agent with it', { timeout: 120_000 }, async () => {
    const image = seededBytes(4 * 1024 * 1024, 46);
    const created = await create(stack.relayUrl, stack.operatorToken, image);
    const url = `${stack.relayUrl}${created.headers.get('location')}`;
    const id = url.split('/').pop()!;
    expect((await patch(url, stack.operatorToken, 0, image.subarray(0, 1024 * 1024))).status).toBe(204);
    expect(partialSize(stack, id)).toBe(1024 * 1024);
    const deleted = await fetch(url, { method: 'DELETE', headers: { ...tus, authorization: `Bearer ${stack.operatorToken}` } });
    expect(deleted.status).toBe(204);
    // the relay ends the agent's pull; its retry is refused (no such upload) and the agent removes the file
    await until(() => !partialsOf(stack).some((name) => name.includes(id)), 60_000, 'the agent to remove the cancelled upload\'s partial file');
  });

  it('kill -9 of the agent mid-upload: after its restart HEAD answers what its partial file holds, the client continues from there, SHA-256 equal, at most one chunk sent twice', { timeout: 180_000 }, async () => {
    const image = seededBytes(32 * 1024 * 1024, 47);
    const chunk = 4 * 1024 * 1024;
    const created = await create(stack.relayUrl, stack.operatorToken, image);
    const url = `${stack.relayUrl}${created.headers.get('location')}`;
    const id = url.split('/').pop()!;
    let sent = 0;
    // One PATCH for the whole image; the agent dies once it holds half of it, while the client is still writing.
    const cut = httpRequest(url, {
      method: 'PATCH',
      headers: { ...tus, authorization: `Bearer ${stack.operatorToken}`, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(image.length) },
    });
    cut.on('error', () => undefined);
    cut.on('response', (response) => response.resume());
    const half = image.length / 2;
    cut.write(image.subarray(0, half));
    sent += half;
    await until(() => partialSize(stack, id) === half, 60_000, 'the agent to hold half of the image');
    await stack.killAgent();
    cut.write(image.subarray(half, half + chunk));
    sent += chunk;
    cut.destroy();
    const kept = partialSize(stack, id);
    expect(kept).toBe(half);

    stack.startAgent();
    const resumed = await eventually('the agent to be back and answer the upload\'s offset', 90_000, async () => {
      const answer = await head(url, stack.operatorToken);
      return answer.status === 200 ? answer : undefined;
    });
    // what the agent had on disk, not zero
    expect(resumed.offset).toBe(kept);
    const rest = await patch(url, stack.operatorToken, resumed.offset, image.subarray(resumed.offset));
    expect(rest.status, await rest.clone().text()).toBe(204);
    sent += image.length - resumed.offset;
    expect(Number(rest.headers.get('upload-offset'))).toBe(image.length);
    expect(hex(readFileSync(join(cacheOf(stack), `${hex(image)}.iso`)))).toBe(hex(image));
    expect(partialsOf(stack)).toEqual([]);
    expect(sent).toBeLessThanOrEqual(image.length + chunk);
  });
});

describe('an upload through a regional deployment (manager + two gateways, PostgreSQL)', () => {
  const MANAGER = 0;
  const HOLDER = 1;
  const OTHER = 2;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(servers, {
      postgresUrl: postgres().url,
      relays: 3,
      agentRelays: [HOLDER, OTHER],
      roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
      agentCredentials: credentials,
      agentEnv: { BMC_PASSWORD: 'x' },
      // Every replica serves the web console (the browser test signs in at the manager).
      relayConfig: { webRoot: WEB_CONSOLE_ROOT },
    });
  }, 180_000);
  afterAll(async () => stack?.close());

  it('created at the manager, sent to the gateway holding the agent; kill -9 of that gateway at ~50 %: the client resumes through the other gateway from the agent\'s offset, SHA-256 equal, nothing on any relay\'s disk', { timeout: 180_000 }, async () => {
    const token = await stack.tokenAt(MANAGER);
    const image = seededBytes(64 * 1024 * 1024, 44);
    const created = await create(stack.relayUrls[MANAGER]!, token, image);
    expect(created.status, await created.clone().text()).toBe(201);
    const location = created.headers.get('location')!;
    // The upload URL names the gateway holding the agent; bytes sent anywhere else are refused with where to go.
    expect(location.startsWith(`${stack.relayUrls[HOLDER]}/v1/media/uploads/`)).toBe(true);
    const id = location.split('/').pop()!;
    const misdirected = await patch(`${stack.relayUrls[OTHER]}/v1/media/uploads/${id}`, token, 0, image.subarray(0, 1024));
    expect(misdirected.status).toBe(421);
    expect(await misdirected.json()).toMatchObject({ code: 'WRONG_GATEWAY', details: { uploadUrl: location } });

    // One PATCH for the whole image, of which half is sent before the gateway dies.
    const half = image.length / 2;
    const cut = httpRequest(location, {
      method: 'PATCH',
      headers: { ...tus, authorization: `Bearer ${token}`, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(image.length) },
    });
    cut.on('error', () => undefined);
    cut.write(image.subarray(0, half));
    await until(() => partialSize(stack) === half, 60_000, 'the agent to hold half of the image');
    await stack.killRelay(HOLDER);

    // The client asks the deployment (the manager) where the upload is now and how much the agent has.
    const resumed = await eventually('the upload to be resumable through the other gateway', 60_000, async () => {
      const answer = await head(`${stack.relayUrls[MANAGER]}/v1/media/uploads/${id}`, token);
      return answer.status === 200 && answer.uploadUrl?.startsWith(stack.relayUrls[OTHER]!) ? answer : undefined;
    });
    expect(resumed.offset).toBe(half);
    // What the agent has is where the client continues; a stale HEAD (the agent still retrying) is a 409 and asked again.
    let offset = resumed.offset;
    const finished = await eventually('the rest of the image to be accepted', 60_000, async () => {
      const answer = await patch(resumed.uploadUrl!, token, offset, image.subarray(offset));
      if (answer.status === 204) return answer;
      offset = (await head(`${stack.relayUrls[MANAGER]}/v1/media/uploads/${id}`, token)).offset;
      return undefined;
    });
    expect(Number(finished.headers.get('upload-offset'))).toBe(image.length);
    // continued from the agent's half: nothing before it was sent twice
    expect(offset).toBe(half);
    expect(hex(readFileSync(join(cacheOf(stack), `${hex(image)}.iso`)))).toBe(hex(image));
    for (const index of [MANAGER, HOLDER, OTHER]) expect(filesUnder(join(stack.directory, `relay-data-${index}`, 'media')), `relay ${index}`).toEqual([]);
    // Verified: any replica lists it for that server (the dedup the CLI asks before uploading).
    const listed = (await (await fetch(`${stack.relayUrls[MANAGER]}/v1/media/images?server=${SERVER}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { images: { uploadId: string }[] };
    expect(listed.images.map((entry) => entry.uploadId)).toContain(id);
  });
  it('the web console, signed in at the manager: an ISO dropped on the server streams to the gateway holding its agent; kill -9 of that gateway mid-upload and the page finishes the upload through the other one, SHA-256 equal', { timeout: 240_000 }, async () => {
    // The gateway the test above killed comes back as a new replica; the agent is on whichever gateway holds it now.
    for (const gateway of [HOLDER, OTHER]) if (!stack.relayRunning(gateway)) await stack.startRelay(gateway);
    const holderUrl = await stack.agentHeldBy();
    const holder = stack.relayUrls.indexOf(holderUrl!);
    expect([HOLDER, OTHER]).toContain(holder);
    const image = imageBytes(48 * 1024 * 1024);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const failedRequests: string[] = [];
      const answered: string[] = [];
      page.on('requestfailed', (request) => failedRequests.push(`${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`));
      page.on('response', (response) => {
        const request = response.request();
        const offset = request.headers()['upload-offset'];
        answered.push(`${request.method()} ${response.url()}${offset === undefined ? '' : ` @${offset}`} ${response.status()}`);
      });
      await signIn(page, stack.relayUrls[MANAGER]!, 'operator', STACK_PASSWORD);
      await page.getByLabel('Filter servers').fill(SERVER);
      const row = page.locator(`[data-testid="server-row"][data-server-id="${SERVER}"]`).first();
      await row.waitFor();
      const dataTransfer = await page.evaluateHandle(`(${DROP_IMAGE})(${image.length})`);
      await row.dispatchEvent('dragover', { dataTransfer });
      await row.dispatchEvent('drop', { dataTransfer });
      // Uplink throttled to 8 MiB/s (Chromium's network emulation), so the gateway dies with most of the image still to send.
      const devtools = await page.context().newCDPSession(page);
      await devtools.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * 1024 * 1024 });
      await page.getByTestId('mount-dialog').getByRole('button', { name: 'Upload and mount' }).click();
      // The first 16 MiB chunk is in the agent's cache: the gateway carrying the upload dies.
      const upload = page.getByTestId('upload').filter({ hasText: 'failover.iso' });
      await until(() => partialSize(stack) >= 16 * 1024 * 1024, 30_000, () => `the agent to hold the first chunk (has ${partialSize(stack)} bytes)`).catch(async (error: Error) => {
        throw new Error(`${error.message}; the page says ${await upload.getByTestId('upload-status').textContent().catch(() => '(no upload)')}; failed requests: ${failedRequests.join('; ') || 'none'}`);
      });
      await stack.killRelay(holder);
      // Uploaded (the mount that follows fails: this server's Redfish endpoint answers nobody).
      const phase = await eventually('the page to finish the upload', 180_000, async () => {
        const now = (await upload.getAttribute('data-phase')) ?? '';
        return ['mounting', 'done', 'failed'].includes(now) ? now : undefined;
      });
      console.log(`web console upload across a gateway kill: phase ${phase}; requests: ${answered.filter((line) => line.includes('/v1/media/uploads')).join(', ')}; failed: ${failedRequests.join(', ')}`);
      expect(await upload.getByTestId('upload-status').textContent(), 'the upload itself did not fail').not.toMatch(/upload failed|tus:/i);
      expect(hex(readFileSync(join(cacheOf(stack), `${hex(image)}.iso`)))).toBe(hex(image));
      // The page lost a PATCH at the dead gateway, asked the manager where the upload is now, and sent the rest to the other gateway.
      const other = holder === HOLDER ? OTHER : HOLDER;
      expect(failedRequests.some((line) => line.startsWith(`PATCH ${stack.relayUrls[holder]}/v1/media/uploads/`)), failedRequests.join('\n')).toBe(true);
      expect(answered.some((line) => line.startsWith(`HEAD ${stack.relayUrls[MANAGER]}/v1/media/uploads/`) && line.endsWith(' 200')), answered.join('\n')).toBe(true);
      const resumedAt = answered.filter((line) => line.startsWith(`PATCH ${stack.relayUrls[other]}/v1/media/uploads/`) && line.endsWith(' 204')).map((line) => Number(/ @(\d+) /.exec(line)?.[1]));
      expect(resumedAt.length, answered.join('\n')).toBeGreaterThan(0);
      // One upload, continued where the agent's cache ended — not a new one from byte 0.
      expect(answered.filter((line) => line.startsWith('POST ') && line.includes('/v1/media/uploads')), answered.join('\n')).toHaveLength(1);
      expect(resumedAt[0]!, answered.join('\n')).toBeGreaterThanOrEqual(16 * 1024 * 1024);
      const listed = (await (await fetch(`${stack.relayUrls[MANAGER]}/v1/media/images?server=${SERVER}`, { headers: { authorization: `Bearer ${await stack.tokenAt(MANAGER)}` } })).json()) as { images: { sha256: string; filename: string }[] };
      expect(listed.images).toContainEqual(expect.objectContaining({ sha256: hex(image), filename: 'failover.iso' }));
    } finally {
      await browser.close();
    }
  });
});
