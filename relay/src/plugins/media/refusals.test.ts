import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import type { MediaServerInfo } from './dependencies.js';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';
import { DRAIN_LIMIT_BYTES } from './drain.js';

/**
 * A tus request the relay refuses while the client is still sending its
 * body: the client must read the typed answer ({code, message}), not a
 * connection reset. The relay answers, then reads (and drops) a bounded
 * amount of the rest, so the client's writes complete and it parses the
 * response; past the bound the connection is closed.
 */
const tus = { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream' };
const SERVER: MediaServerInfo = { id: 'vm-01', tenant: 'acme', agentId: 'agent-1', capabilities: ['media'], endpoints: { redfish: 'https://bmc.test' } };
const BODY = 8 * 1024 * 1024;
/** Each refusal several times: the reset, when there is one, loses a race only some of the time. */
const RUNS = 4;

let operator: string, viewer: string;
let here: MediaTestApp, elsewhere: MediaTestApp;
/** Whether the agent is connected to `here` (else it is at `elsewhere`, for 421). */
beforeAll(async () => {
  operator = await mediaAuthorization('acme', 'operator', 'olga');
  viewer = await mediaAuthorization('acme', 'viewer', 'vic');
  const dependencies = (connectedHere: boolean) => ({
    findServer: async (id: string) => (id === SERVER.id ? SERVER : undefined),
    agentConnectedHere: () => connectedHere,
    gatewayUrlOf: async () => 'https://gateway-b.test',
    // the agent has the image already: the gateway hashes the body as proof, nothing is stored
    requestAgent: (async () => ({ cached: true })) as never,
  });
  here = await startMediaApp({ agentUploads: true, dependencies: dependencies(true) });
  elsewhere = await startMediaApp({ agentUploads: true, dependencies: dependencies(false) });
}, 30_000);
afterAll(async () => {
  await here?.close();
  await elsewhere?.close();
});

async function create(app: MediaTestApp, size: number, server?: string): Promise<string> {
  const sha256 = createHash('sha256').update(randomBytes(8)).digest('hex');
  const metadata = [`filename ${btoa('a.iso')}`, `sha256 ${btoa(sha256)}`, ...(server ? [`server ${btoa(server)}`] : [])].join(',');
  const response = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', Authorization: operator, 'Upload-Length': String(size), 'Upload-Metadata': metadata } });
  expect(response.status, await response.clone().text()).toBe(201);
  const location = response.headers.get('location')!;
  return `${app.url}${location.slice(location.indexOf(MEDIA_UPLOADS_PATH))}`;
}

/**
 * A PATCH with a body of `bytes`, sent by fetch (undici, as the web console
 * and most tus clients do) from a worker thread: a client with its own event
 * loop keeps writing while the relay answers, as a real one does (in this
 * thread the relay would run only between the client's writes). A write that
 * fails (EPIPE, reset) before the answer was parsed fails the whole request.
 */
function sendBody(url: string, headers: Record<string, string>, bytes: number): Promise<{ status: number; body: { code?: string; message?: string } }> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
    fetch(workerData.url, { method: 'PATCH', headers: workerData.headers, body: Buffer.alloc(workerData.bytes, 7) })
      .then(async (response) => parentPort.postMessage({ status: response.status, body: await response.text() }))
      .catch((error) => parentPort.postMessage({ error: String(error.cause?.code ?? error.message) }));`,
    { eval: true, workerData: { url, headers, bytes } },
  );
  return new Promise((resolve, reject) => {
    worker.once('message', (answer: { status: number; body: string } | { error: string }) => {
      void worker.terminate();
      if ('error' in answer) return reject(new Error(`the client saw ${answer.error} instead of an answer`));
      resolve({ status: answer.status, body: JSON.parse(answer.body || '{}') as { code?: string; message?: string } });
    });
    worker.once('error', reject);
  });
}

describe('a refused tus PATCH with a large body still in flight', () => {
  it('409 (wrong Upload-Offset, relay file store): the client reads the typed answer', { timeout: 60_000 }, async () => {
    const url = await create(here, 64 * 1024 * 1024);
    for (let run = 0; run < RUNS; run += 1) {
      const answer = await sendBody(url, { ...tus, Authorization: operator, 'Upload-Offset': '1' }, BODY);
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('Upload-Offset 1') });
    }
  });

  it('409 (wrong Upload-Offset, upload into the agent): the client reads the typed answer', { timeout: 60_000 }, async () => {
    const url = await create(here, 64 * 1024 * 1024, SERVER.id);
    for (let run = 0; run < RUNS; run += 1) {
      const answer = await sendBody(url, { ...tus, Authorization: operator, 'Upload-Offset': String(1024 * 1024) }, BODY);
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ code: 'CONFLICT' });
    }
  });

  it('413 (body longer than the upload needs): the client reads the typed answer', { timeout: 60_000 }, async () => {
    const url = await create(here, 1024 * 1024, SERVER.id);
    for (let run = 0; run < RUNS; run += 1) {
      const answer = await sendBody(url, { ...tus, Authorization: operator, 'Upload-Offset': '0' }, BODY);
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    }
  });

  it('421 WRONG_GATEWAY (the agent is at another gateway): the client reads where to go', { timeout: 60_000 }, async () => {
    const url = await create(elsewhere, 64 * 1024 * 1024, SERVER.id);
    for (let run = 0; run < RUNS; run += 1) {
      const answer = await sendBody(url, { ...tus, Authorization: operator, 'Upload-Offset': '0' }, BODY);
      expect(answer.status).toBe(421);
      expect(answer.body).toMatchObject({ code: 'WRONG_GATEWAY', details: { uploadUrl: expect.stringMatching(/^https:\/\/gateway-b\.test\//) } });
    }
  });

  it('403 (a viewer may not upload): the client reads the typed answer', { timeout: 60_000 }, async () => {
    const url = await create(here, 64 * 1024 * 1024);
    for (let run = 0; run < RUNS; run += 1) {
      const answer = await sendBody(url, { ...tus, Authorization: viewer, 'Upload-Offset': '0' }, BODY);
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    }
  });

  it('a body far past the bound is not read to its end: the answer arrives, then the relay closes the connection', { timeout: 60_000 }, async () => {
    const url = new URL(await create(here, 64 * 1024 * 1024));
    // A raw socket: it writes as fast as the relay reads, whatever the answer says, and counts what it got rid of.
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const head = [`PATCH ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, `Authorization: ${operator}`, 'Tus-Resumable: 1.0.0', 'Content-Type: application/offset+octet-stream', 'Upload-Offset: 1', `Content-Length: ${4 * 1024 ** 3}`, '', ''];
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let written = 0;
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    const closed = new Promise<void>((resolve) => {
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
    socket.write(head.join('\r\n'));
    let open = true;
    void closed.then(() => (open = false));
    while (open && written < 4 * 1024 ** 3) {
      written += chunk.length;
      if (!socket.write(chunk)) await Promise.race([once(socket, 'drain'), closed]);
    }
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 409 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'CONFLICT' });
    // what the relay read, plus what the two sockets' buffers held when it closed
    expect(written).toBeGreaterThan(8 * 1024 * 1024);
    expect(written).toBeLessThan(DRAIN_LIMIT_BYTES + 32 * 1024 * 1024);
  });
});
