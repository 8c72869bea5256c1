import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LightsoutError, MEDIA_UPLOADS_PATH, type MediaState } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import type { MediaDependencies } from './dependencies.js';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';

/**
 * The relay side of the one action with a scripted agent (the real agent is
 * exercised end to end in bench/test/virtual-media.e2e.test.ts): the order of
 * control ops, the pull route's authorization, and the rule that a mount
 * waits for the caller's own verified upload.
 */
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
const server = { id: 'web-01', tenant: 'acme', agentId: 'agent-1', capabilities: ['power', 'media'], endpoints: { redfish: 'https://10.0.0.5' } };

function scriptedAgent(options: { cached: boolean; mounted?: boolean }) {
  const calls: string[] = [];
  let mounted = options.mounted === true;
  const script = { sha256: '0'.repeat(64), transfer: options.cached ? 'cached' : 'fetching' };
  const requestAgent = (async (_agentId: string, op: string) => {
    calls.push(op);
    switch (op) {
      case 'media.fetch':
        return { cached: options.cached };
      case 'media.mount':
        mounted = true;
        return { step: 'mounted', failedStep: null, error: null, quirks: [], powerAction: null };
      case 'media.status':
        return {
          transfer: { sha256: script.sha256, state: script.transfer, bytes: 0, size: 0 },
          mount: mounted ? { sha256: script.sha256, filename: 'rescue.iso', mountedAt: new Date().toISOString(), mountedBy: 'olga', autoEjectAt: null } : null,
          job: mounted ? { step: 'mounted', failedStep: null, error: null, quirks: [], powerAction: null } : null,
        };
      case 'media.eject': {
        const ejected = mounted ? 'rescue.iso' : null;
        mounted = false;
        return { ejected };
      }
      default:
        throw new LightsoutError('BMC_UNSUPPORTED', op);
    }
  }) as MediaDependencies['requestAgent'];
  return { calls, requestAgent, script };
}

async function start(agent: ReturnType<typeof scriptedAgent>, extra: Partial<MediaDependencies> = {}) {
  const app = await startMediaApp({ pollIntervalMs: 10, dependencies: { findServer: async (id) => (id === server.id ? server : undefined), requestAgent: agent.requestAgent, ...extra } });
  apps.push(app);
  return app;
}

async function createUpload(app: MediaTestApp, image: Buffer): Promise<string> {
  const sha256 = createHash('sha256').update(image).digest('hex');
  const response = await fetch(`${app.url}${MEDIA_UPLOADS_PATH}`, {
    method: 'POST',
    headers: { ...tus, Authorization: operator, 'Upload-Length': String(image.length), 'Upload-Metadata': `filename ${b64('rescue.iso')},sha256 ${b64(sha256)}` },
  });
  return response.headers.get('location')!;
}

async function state(app: MediaTestApp): Promise<MediaState> {
  return (await (await fetch(`${app.url}/v1/servers/web-01/media`, { headers: { Authorization: operator } })).json()) as MediaState;
}

describe('media jobs (relay side)', () => {
  it('does not mount an image the agent already holds until the caller has uploaded it in full', async () => {
    const agent = scriptedAgent({ cached: true });
    const app = await start(agent);
    const image = randomBytes(50_000);
    agent.script.sha256 = createHash('sha256').update(image).digest('hex');
    const location = await createUpload(app, image);
    const accepted = await fetch(`${app.url}/v1/servers/web-01/media`, {
      method: 'POST',
      headers: { Authorization: operator, 'content-type': 'application/json' },
      body: JSON.stringify({ uploadId: location.split('/').pop() }),
    });
    expect(accepted.status).toBe(202);
    await waitFor('the job to wait for the upload', async () => (await state(app)).message === 'waiting for the upload to finish');
    expect(agent.calls).not.toContain('media.mount');

    const patched = await fetch(`${app.url}${location}`, {
      method: 'PATCH',
      headers: { ...tus, Authorization: operator, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: image,
    });
    expect(patched.status).toBe(204);
    const mounted = await waitFor('the mount', async () => {
      const current = await state(app);
      return current.step === 'mounted' ? current : undefined;
    }).catch(async (error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify(await state(app))} ${agent.calls.join(',')}`);
    });
    expect(mounted).toMatchObject({ step: 'mounted', mountedBy: 'olga', image: { filename: 'rescue.iso' } });
    expect(agent.calls.filter((op) => op !== 'media.status')).toEqual(['media.fetch', 'media.mount']);
  });

  it('grants the pull only to the agent of the server being mounted, only while it transfers', async () => {
    const agent = scriptedAgent({ cached: false });
    const app = await start(agent, { verifyAgentToken: async (token) => token });
    const image = randomBytes(10_000);
    const location = await createUpload(app, image);
    const uploadId = location.split('/').pop()!;
    const pull = (token: string) => fetch(`${app.url}/v1/agent/media/${uploadId}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await pull('agent-1')).status).toBe(403); // no transfer yet
    await fetch(`${app.url}/v1/servers/web-01/media`, { method: 'POST', headers: { Authorization: operator, 'content-type': 'application/json' }, body: JSON.stringify({ uploadId }) });
    await waitFor('media.fetch', () => agent.calls.includes('media.fetch'));
    expect((await pull('agent-2')).status).toBe(403);
    const patched = await fetch(`${app.url}${location}`, {
      method: 'PATCH',
      headers: { ...tus, Authorization: operator, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: image,
    });
    expect(patched.status).toBe(204);
    const granted = await pull('agent-1');
    expect(granted.status).toBe(200);
    expect(Buffer.from(await granted.arrayBuffer()).equals(image)).toBe(true);
    const resumed = await fetch(`${app.url}/v1/agent/media/${uploadId}`, { headers: { authorization: 'Bearer agent-1', range: 'bytes=4000-' } });
    expect(resumed.status).toBe(206);
    expect(Buffer.from(await resumed.arrayBuffer()).equals(image.subarray(4000))).toBe(true);
  });

  it('refuses servers of other tenants (404) and IPMI-only servers (501, says Redfish is needed)', async () => {
    const agent = scriptedAgent({ cached: true });
    const app = await start(agent, {
      findServer: async (id) => (id === 'ipmi-01' ? { ...server, id, capabilities: ['power'], endpoints: { ipmi: '10.0.0.6:623' } } : id === 'web-01' ? server : undefined),
    });
    const foreign = await fetch(`${app.url}/v1/servers/web-01/media`, { headers: { Authorization: gus } });
    expect(foreign.status).toBe(404);
    const ipmi = await fetch(`${app.url}/v1/servers/ipmi-01/media`, { headers: { Authorization: operator } });
    expect(ipmi.status).toBe(501);
    expect(await ipmi.json()).toMatchObject({ code: 'BMC_UNSUPPORTED', message: expect.stringMatching(/virtual media needs Redfish/) });
    const viewer = await fetch(`${app.url}/v1/servers/web-01/media`, { method: 'DELETE', headers: { Authorization: vic } });
    expect(viewer.status).toBe(403);
  });

  it('an eject says what it did: the image it ejected, or that the virtual CD was empty', async () => {
    const agent = scriptedAgent({ cached: true, mounted: true });
    const app = await start(agent);
    const eject = async () => {
      const response = await fetch(`${app.url}/v1/servers/web-01/media`, { method: 'DELETE', headers: { Authorization: operator } });
      expect(response.status).toBe(200);
      return (await response.json()) as MediaState;
    };
    expect(await eject()).toMatchObject({ step: 'idle', image: null, message: 'ejected rescue.iso' });
    expect(await eject()).toMatchObject({ step: 'idle', image: null, message: 'nothing to eject: the virtual CD was empty' });
    expect(agent.calls.filter((op) => op === 'media.eject')).toHaveLength(2);
  });
});
