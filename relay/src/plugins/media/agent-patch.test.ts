import { createHash, randomBytes } from 'node:crypto';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentMediaTransfer, LightsoutError, MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import type { MediaDependencies, MediaServerInfo } from './dependencies.js';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';

/**
 * tus PATCH, HEAD and DELETE of an upload into the agent's cache
 * (agent-patch.ts) against a scripted agent that pulls each upload as the
 * real one does: `media.fetch` makes it GET the pull path (Range from what
 * it holds, again after a cut), it counts and hashes what arrives, and
 * `media.status` reports this upload's own transfer — `verified` only when
 * its own bytes matched (agent/src/media/transfers.ts). A test may rewrite
 * that report (`statusOf`) to play a full disk, a forgotten transfer or a
 * lost answer.
 */
const SERVER: MediaServerInfo = { id: 'vm-01', tenant: 'acme', agentId: 'agent-1', capabilities: ['media'], endpoints: { redfish: 'https://bmc.test' } };
const tus = { 'Tus-Resumable': '1.0.0' };
const patchHeaders = (offset: number) => ({ ...tus, Authorization: operator, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' });

interface Pull {
  sha256: string;
  size: number;
  chunks: Buffer[];
  received: number;
  state: AgentMediaTransfer['state'];
  error?: { code: string; message: string };
  controller: AbortController;
}

interface Script {
  /** The agent's disk is full once it holds this many bytes: its write fails (ENOSPC) and its pull stops. */
  failAt?: number;
  /** What `media.status` answers instead of the own transfer; 'lost': the control round trip fails. */
  statusOf?: (own: AgentMediaTransfer) => AgentMediaTransfer | 'lost';
}

class PullingAgent {
  relayUrl = '';
  readonly pulls = new Map<string, Pull>();
  readonly scripts = new Map<string, Script>();
  readonly asked: { op: string; pullPath?: string }[] = [];

  readonly requestAgent = (async (_agentId: string, op: string, params: { sha256: string; size: number; pullPath: string }) => {
    this.asked.push({ op, pullPath: params.pullPath });
    switch (op) {
      case 'media.fetch': {
        const running = this.pulls.get(params.pullPath);
        if (running?.state === 'fetching') return { cached: false };
        const pull: Pull = { sha256: params.sha256, size: params.size, chunks: [], received: 0, state: 'fetching', controller: new AbortController() };
        this.pulls.set(params.pullPath, pull);
        void this.pull(params.pullPath, pull);
        return { cached: false };
      }
      case 'media.status': {
        const pull = this.pulls.get(params.pullPath);
        const own: AgentMediaTransfer = pull
          ? { sha256: pull.sha256, state: pull.state, bytes: pull.received, size: pull.size, ...(pull.error ? { error: pull.error } : {}), ...(pull.state === 'cached' ? { verified: true } : {}) }
          : { sha256: params.sha256, state: 'absent', bytes: 0, size: 0 };
        const answer = this.scripts.get(params.pullPath)?.statusOf?.(own) ?? own;
        if (answer === 'lost') throw new LightsoutError('AGENT_TIMEOUT', 'agent did not answer media.status in time');
        return { transfer: answer, mount: null, job: null };
      }
      case 'media.discard':
        return { discarded: this.pulls.delete(params.pullPath) };
      default:
        throw new LightsoutError('BMC_UNSUPPORTED', op);
    }
  }) as unknown as MediaDependencies['requestAgent'];

  /** The agent's pull: GET with Range from what it holds, up to three tries; the relay's 403/404/410 ends it (NOT_FOUND). */
  private async pull(pullPath: string, pull: Pull): Promise<void> {
    const failAt = this.scripts.get(pullPath)?.failAt;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        const response = await fetch(`${this.relayUrl}${pullPath}`, {
          headers: { authorization: 'Bearer agent-1', ...(pull.received > 0 ? { range: `bytes=${pull.received}-` } : {}) },
          signal: pull.controller.signal,
        });
        if ([403, 404, 410].includes(response.status)) {
          await response.body?.cancel();
          pull.state = 'failed';
          pull.error = { code: 'NOT_FOUND', message: `the relay no longer has this upload: HTTP ${response.status}` };
          return;
        }
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const room = failAt === undefined ? chunk.byteLength : Math.min(chunk.byteLength, failAt - pull.received);
          pull.chunks.push(Buffer.from(chunk.subarray(0, room)));
          pull.received += room;
          if (failAt !== undefined && pull.received >= failAt) {
            pull.state = 'failed';
            pull.error = { code: 'INTERNAL', message: 'ENOSPC: no space left on device, write' };
            pull.controller.abort();
            return;
          }
        }
      } catch {
        if (pull.controller.signal.aborted) return;
        continue; // cut: try again from what arrived
      }
      if (pull.received === pull.size) {
        const actual = createHash('sha256').update(Buffer.concat(pull.chunks)).digest('hex');
        if (actual === pull.sha256) pull.state = 'cached';
        else Object.assign(pull, { state: 'failed', error: { code: 'CHECKSUM_MISMATCH', message: 'image bytes do not match their SHA-256' } });
        return;
      }
    }
    pull.state = 'partial';
  }
}

const agent = new PullingAgent();
let operator: string;
let app: MediaTestApp;

beforeAll(async () => {
  operator = await mediaAuthorization('acme', 'operator', 'olga');
  app = await startMediaApp({
    agentUploads: true,
    dependencies: {
      findServer: async (id: string) => (id === SERVER.id ? SERVER : undefined),
      agentConnectedHere: () => true,
      gatewayUrlOf: async () => app.url,
      verifyAgentToken: async (token: string) => {
        if (token !== 'agent-1') throw new LightsoutError('UNAUTHENTICATED', 'unknown agent');
        return token;
      },
      requestAgent: agent.requestAgent,
    },
  });
  agent.relayUrl = app.url;
}, 30_000);
afterAll(async () => {
  for (const pull of agent.pulls.values()) pull.controller.abort();
  await app?.close();
});

/** A new upload of `image` into the agent of SERVER, scripted with `script`. */
async function create(image: Buffer, script: Script = {}): Promise<{ url: string; pullPath: string }> {
  const sha256 = createHash('sha256').update(image).digest('hex');
  const metadata = [`filename ${btoa('a.iso')}`, `sha256 ${btoa(sha256)}`, `server ${btoa(SERVER.id)}`].join(',');
  const response = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, { method: 'POST', headers: { ...tus, Authorization: operator, 'Upload-Length': String(image.length), 'Upload-Metadata': metadata } });
  expect(response.status, await response.clone().text()).toBe(201);
  const location = response.headers.get('location')!;
  const id = location.split('/').at(-1)!;
  const pullPath = `/v1/agent/media/${id}`;
  agent.scripts.set(pullPath, script);
  return { url: `${app.url}${location.slice(location.indexOf(MEDIA_UPLOADS_PATH))}`, pullPath };
}

async function patch(url: string, offset: number, body: Buffer): Promise<{ status: number; offset: string | null; body: { code?: string; message?: string } }> {
  const response = await fetch(url, { method: 'PATCH', headers: patchHeaders(offset), body });
  const text = await response.text();
  return { status: response.status, offset: response.headers.get('upload-offset'), body: JSON.parse(text || '{}') as { code?: string; message?: string } };
}

async function head(url: string): Promise<{ status: number; offset: string | null }> {
  const response = await fetch(url, { method: 'HEAD', headers: { ...tus, Authorization: operator } });
  return { status: response.status, offset: response.headers.get('upload-offset') };
}

const statusAsks = (pullPath: string) => agent.asked.filter((entry) => entry.op === 'media.status' && entry.pullPath === pullPath).length;

describe('a PATCH into the agent is 204 only for bytes the agent holds (tus 1.0 §3.2.3)', () => {
  it('the agent’s disk fills up mid-body: the PATCH is refused with the agent’s failure, not 204 Upload-Offset: 0', { timeout: 30_000 }, async () => {
    const image = randomBytes(256 * 1024);
    const { url } = await create(image, { failAt: 16 * 1024 });
    const answer = await patch(url, 0, image.subarray(0, 64 * 1024));
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 500, code: 'INTERNAL' });
    expect(answer.body.message).toContain('ENOSPC');
    expect(answer.offset).toBeNull();
  });

  it('the agent forgot the transfer mid-body (restarted, its file gone): 503 AGENT_OFFLINE, and HEAD then says where to resume', { timeout: 30_000 }, async () => {
    const image = randomBytes(256 * 1024);
    const forgotten: AgentMediaTransfer = { sha256: '', state: 'absent', bytes: 0, size: 0 };
    const { url } = await create(image, { statusOf: (own) => (own.bytes >= 64 * 1024 ? forgotten : own) });
    const answer = await patch(url, 0, image.subarray(0, 64 * 1024));
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 503, code: 'AGENT_OFFLINE' });
    expect(await head(url)).toEqual({ status: 200, offset: '0' });
  });

  it('the last PATCH’s verdict is lost: HEAD finds the agent verified this upload’s own bytes, marks it verified and answers the full offset', { timeout: 30_000 }, async () => {
    const image = randomBytes(128 * 1024);
    let lost = false;
    const { url, pullPath } = await create(image, {
      statusOf: (own) => {
        if (own.state !== 'cached' || lost) return own;
        lost = true;
        return 'lost';
      },
    });
    const last = await patch(url, 0, image);
    expect({ status: last.status, code: last.body.code }).toEqual({ status: 504, code: 'AGENT_TIMEOUT' });
    expect(await head(url)).toEqual({ status: 200, offset: String(image.length) });
    // verified now: the next HEAD is answered from the row, the agent is not asked again
    const asked = statusAsks(pullPath);
    expect(await head(url)).toEqual({ status: 200, offset: String(image.length) });
    expect(statusAsks(pullPath)).toBe(asked);
    const again = await patch(url, image.length, Buffer.alloc(0));
    expect({ status: again.status, offset: again.offset }).toEqual({ status: 204, offset: String(image.length) });
  });

  it('an image the agent has cached from another upload never verifies this one: HEAD says 0, the last PATCH is not 204', { timeout: 30_000 }, async () => {
    const image = randomBytes(128 * 1024);
    // this upload's own transfer is forgotten once its bytes are in; the image with its hash is cached by someone else
    const notOwn = (own: AgentMediaTransfer): AgentMediaTransfer => (own.state === 'cached' ? { ...own, verified: false } : own);
    const { url, pullPath } = await create(image, { statusOf: notOwn });
    const last = await patch(url, 0, image);
    expect({ status: last.status, code: last.body.code }).toEqual({ status: 503, code: 'AGENT_OFFLINE' });
    expect(await head(url)).toEqual({ status: 200, offset: '0' });
    // still unverified: every HEAD asks the agent again
    const asked = statusAsks(pullPath);
    expect(await head(url)).toEqual({ status: 200, offset: '0' });
    expect(statusAsks(pullPath)).toBe(asked + 1);
  });
});

describe('DELETE of an upload into the agent while a PATCH writes it (tus 1.0 §3.3)', () => {
  it('the DELETE waits for the PATCH to let go; the PATCH is answered 410, the upload is gone', { timeout: 30_000 }, async () => {
    const image = randomBytes(256 * 1024);
    const { url, pullPath } = await create(image);
    let sending: ClientRequest | undefined;
    const patched = new Promise<{ status: number; offset: string | undefined; body: string }>((resolve, reject) => {
      sending = httpRequest(url, { method: 'PATCH', headers: { ...patchHeaders(0), 'Content-Length': String(image.length) } });
      sending.on('response', (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, offset: response.headers['upload-offset'] as string | undefined, body }));
      });
      sending.on('error', reject);
      sending.write(image.subarray(0, 16 * 1024));
    });
    await waitFor('the agent to hold the first 16 KiB', () => (agent.pulls.get(pullPath)?.received ?? 0) >= 16 * 1024);
    const removal = await fetch(url, { method: 'DELETE', headers: { ...tus, Authorization: operator } });
    expect(removal.status).toBe(204);
    const answer = await patched;
    sending?.destroy();
    expect({ status: answer.status, code: (JSON.parse(answer.body || '{}') as { code?: string }).code, offset: answer.offset }).toEqual({ status: 410, code: 'NOT_FOUND', offset: undefined });
    expect((await head(url)).status).toBe(404);
  });
});
