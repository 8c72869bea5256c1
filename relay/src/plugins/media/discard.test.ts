import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_UPLOADS_PATH } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import type { MediaDependencies, MediaServerInfo } from './dependencies.js';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';

/**
 * An upload into an agent's cache that the relay no longer has — deleted by
 * its client (tus DELETE) or expired unfinished — is discarded in the agent
 * too (`media.discard` with its pull path), so the agent drops its partial
 * file now rather than 24 h after its last write.
 */
const SERVER: MediaServerInfo = { id: 'vm-01', tenant: 'acme', agentId: 'agent-1', capabilities: ['media'], endpoints: { redfish: 'https://bmc.test' } };
const asked: { agentId: string; op: string; params: unknown }[] = [];
let operator: string;
let app: MediaTestApp;

beforeAll(async () => {
  operator = await mediaAuthorization('acme', 'operator', 'olga');
  const requestAgent = (async (agentId: string, op: string, params: unknown) => {
    asked.push({ agentId, op, params });
    if (op === 'media.discard') return { discarded: true };
    if (op === 'media.status') return { transfer: { sha256: '', state: 'partial', bytes: 0, size: 0 }, mount: null, job: null };
    return { cached: false };
  }) as MediaDependencies['requestAgent'];
  app = await startMediaApp({
    agentUploads: true,
    incompleteTtlMs: 1500,
    sweepIntervalMs: 100,
    dependencies: { findServer: async (id: string) => (id === SERVER.id ? SERVER : undefined), agentConnectedHere: () => true, gatewayUrlOf: async () => 'https://gateway-a.test', requestAgent },
  });
}, 30_000);
afterAll(async () => {
  await app?.close();
});

async function create(): Promise<{ url: string; id: string }> {
  const sha256 = createHash('sha256').update(randomBytes(8)).digest('hex');
  const metadata = [`filename ${btoa('a.iso')}`, `sha256 ${btoa(sha256)}`, `server ${btoa(SERVER.id)}`].join(',');
  const response = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', Authorization: operator, 'Upload-Length': '1048576', 'Upload-Metadata': metadata } });
  expect(response.status, await response.clone().text()).toBe(201);
  const location = response.headers.get('location')!;
  const id = location.split('/').at(-1)!;
  return { url: `${app.url}${location.slice(location.indexOf(MEDIA_UPLOADS_PATH))}`, id };
}

const discards = (id: string) => asked.filter((entry) => entry.op === 'media.discard' && (entry.params as { pullPath: string }).pullPath === `/v1/agent/media/${id}`);

describe('the agent drops what it kept of an upload the relay no longer has', () => {
  it('deleted by its client: the agent is told at once; expired unfinished: told by the sweep that removes it', { timeout: 30_000 }, async () => {
    const deleted = await create();
    const expiring = await create();
    const removal = await fetch(deleted.url, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0', Authorization: operator } });
    expect(removal.status).toBe(204);
    await waitFor('the deleted upload’s discard', async () => (discards(deleted.id).length > 0 ? true : undefined), { timeoutMs: 5000 });
    expect(discards(deleted.id)).toEqual([{ agentId: 'agent-1', op: 'media.discard', params: { pullPath: `/v1/agent/media/${deleted.id}` } }]);
    // not yet expired: nothing told of it
    expect(discards(expiring.id)).toEqual([]);
    await waitFor('the expired upload’s discard', async () => (discards(expiring.id).length > 0 ? true : undefined), { timeoutMs: 10_000 });
    expect(discards(expiring.id)).toEqual([{ agentId: 'agent-1', op: 'media.discard', params: { pullPath: `/v1/agent/media/${expiring.id}` } }]);
    const head = await fetch(expiring.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: operator } });
    expect(head.status).toBe(404);
  });
});
