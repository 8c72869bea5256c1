import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LightsoutError, type MediaState, type MediaUrlPolicy, type MediaUrlPolicyView } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import type { MediaDependencies } from './dependencies.js';
import { type MediaTestApp, mediaAuthorization, startMediaApp } from '../../testing/media-app.js';

/**
 * Mount by URL at the relay, with a scripted agent (the real agent's fetch
 * is tested in agent/src/media/url-fetch.test.ts, the whole chain in
 * bench/test/virtual-media-url.e2e.test.ts): no URL is fetched until a
 * tenant admin allows hosts; the policy travels to the agent with the
 * request; every fetch is audited when asked and when it ends.
 */
const apps: MediaTestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
let operator: string, admin: string;
beforeAll(async () => {
  operator = await mediaAuthorization('acme', 'operator', 'olga');
  admin = await mediaAuthorization('acme', 'tenant-admin', 'ada');
});

const server = { id: 'web-01', tenant: 'acme', agentId: 'agent-1', capabilities: ['power', 'media'], endpoints: { redfish: 'https://10.0.0.5' } };
const sha256 = 'ab'.repeat(32);

type AuditEvent = Parameters<NonNullable<MediaDependencies['audit']>>[1];

async function start(fetchOutcome: 'cached' | 'refused') {
  const calls: { op: string; params: unknown }[] = [];
  const audits: AuditEvent[] = [];
  const policies = new Map<string, MediaUrlPolicyView>();
  let mounted = false;
  const fetchState = () =>
    fetchOutcome === 'cached'
      ? { fetchId: 'f1', state: 'cached', bytes: 4096, size: 4096, sha256, filename: 'rescue.iso', hops: [{ url: 'http://mirror.example.com/rescue.iso', address: '203.0.113.5', status: 200 }], resumes: 0 }
      : { fetchId: 'f1', state: 'failed', bytes: 0, size: null, sha256: null, filename: 'x.iso', hops: [{ url: 'http://mirror.example.com/x.iso', address: '203.0.113.5', status: 302 }], resumes: 0, error: { code: 'MEDIA_URL_NOT_ALLOWED', message: 'the redirect goes to 10.0.0.9' } };
  const requestAgent = (async (_agentId: string, op: string, params: unknown) => {
    calls.push({ op, params });
    switch (op) {
      case 'media.fetch-url':
        return { fetchId: 'f1' };
      case 'media.mount':
        mounted = true;
        return { step: 'mounted', failedStep: null, error: null, quirks: [], powerAction: null };
      case 'media.status':
        return {
          transfer: null,
          urlFetch: fetchState(),
          mount: mounted ? { sha256, filename: 'rescue.iso', mountedAt: new Date().toISOString(), mountedBy: 'olga', autoEjectAt: null } : null,
          job: mounted ? { step: 'mounted', failedStep: null, error: null, quirks: [], powerAction: null } : null,
        };
      default:
        throw new LightsoutError('BMC_UNSUPPORTED', op);
    }
  }) as MediaDependencies['requestAgent'];
  const app = await startMediaApp({
    pollIntervalMs: 10,
    maxUploadBytes: 1 << 30,
    dependencies: {
      findServer: async (id) => (id === server.id ? server : undefined),
      requestAgent,
      audit: async (_request, event) => void audits.push(event),
      urlPolicies: {
        get: async (tenant) => policies.get(tenant) ?? { tenant, policy: { allow: [] }, updatedAt: null, updatedBy: null },
        set: async (tenant, policy: MediaUrlPolicy, by) => {
          const view = { tenant, policy, updatedAt: new Date().toISOString(), updatedBy: by };
          policies.set(tenant, view);
          return view;
        },
      },
    },
  });
  apps.push(app);
  const call = async (method: string, path: string, who: string, body?: unknown) => {
    const response = await fetch(`${app.url}${path}`, { method, headers: { authorization: who, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { calls, audits, call };
}

describe('mount by URL at the relay', () => {
  it('refuses every URL until a tenant admin allows hosts, and audits the refusal', async () => {
    const { calls, audits, call } = await start('cached');
    const refused = await call('POST', '/v1/servers/web-01/media', operator, { url: 'http://mirror.example.com/rescue.iso' });
    expect(refused).toMatchObject({ status: 403, body: { code: 'MEDIA_URL_NOT_ALLOWED' } });
    expect(calls).toEqual([]);
    expect(audits).toEqual([expect.objectContaining({ action: 'media.fetch-url', outcome: 'denied', details: expect.objectContaining({ url: 'http://mirror.example.com/rescue.iso' }) })]);
    const ftp = await call('POST', '/v1/servers/web-01/media', operator, { url: 'ftp://mirror.example.com/rescue.iso' });
    expect(ftp).toMatchObject({ status: 403, body: { code: 'MEDIA_URL_NOT_ALLOWED' } });
  });

  it('lets only a tenant admin set the policy, and refuses entries the agent could not enforce', async () => {
    const { call } = await start('cached');
    expect(await call('GET', '/v1/media/url-policy', admin)).toMatchObject({ status: 200, body: { tenant: 'acme', policy: { allow: [] }, updatedBy: null } });
    expect(await call('PUT', '/v1/media/url-policy', operator, { allow: ['mirror.example.com'] })).toMatchObject({ status: 403 });
    expect(await call('PUT', '/v1/media/url-policy', admin, { allow: ['https://mirror.example.com/'] })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await call('PUT', '/v1/media/url-policy', admin, { allow: ['10.0.0.0/33'] })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await call('PUT', '/v1/media/url-policy?tenant=other', admin, { allow: ['mirror.example.com'] })).toMatchObject({ status: 403 });
    const set = await call('PUT', '/v1/media/url-policy', admin, { allow: ['Mirror.Example.com', '*.images.example.org', '10.20.0.0/16'], maxBytes: 8 * 1024 ** 3 });
    expect(set).toMatchObject({ status: 200, body: { tenant: 'acme', policy: { allow: ['mirror.example.com', '*.images.example.org', '10.20.0.0/16'], maxBytes: 8 * 1024 ** 3 }, updatedBy: 'ada' } });
  });

  it('sends the policy with the fetch, mounts the image the agent hashed, and audits the fetch with its hops', async () => {
    const { calls, audits, call } = await start('cached');
    await call('PUT', '/v1/media/url-policy', admin, { allow: ['mirror.example.com'], maxBytes: 2 ** 40 });
    const started = await call('POST', '/v1/servers/web-01/media', operator, { url: 'http://user:pw@mirror.example.com/rescue.iso?token=secret' });
    expect(started).toMatchObject({ status: 202, body: { step: 'transferring', image: { filename: 'rescue.iso', url: 'http://mirror.example.com/rescue.iso' } } });
    const done = await waitFor('the mount', async () => {
      const state = (await call('GET', '/v1/servers/web-01/media', operator)).body as unknown as MediaState;
      return state.step === 'mounted' ? state : undefined;
    });
    expect(done.image).toMatchObject({ sha256, filename: 'rescue.iso', size: 4096, url: 'http://mirror.example.com/rescue.iso' });
    // the maximum is the relay's upload limit, whatever the policy says
    expect(calls[0]).toEqual({ op: 'media.fetch-url', params: { serverId: 'web-01', url: 'http://user:pw@mirror.example.com/rescue.iso?token=secret', allow: ['mirror.example.com'], maxBytes: 1 << 30 } });
    expect(calls.find((entry) => entry.op === 'media.mount')?.params).toMatchObject({ sha256, filename: 'rescue.iso' });
    const fetched = audits.find((event) => event.action === 'media.fetch-url');
    expect(fetched).toMatchObject({ outcome: 'success', details: { url: 'http://mirror.example.com/rescue.iso', sha256, size: 4096, hops: [expect.objectContaining({ status: 200, address: '203.0.113.5' })] } });
    expect(JSON.stringify(audits)).not.toContain('secret');
    expect(audits.find((event) => event.action === 'media.mount')).toMatchObject({ details: { url: 'http://mirror.example.com/rescue.iso' } });
  });

  it('with a hash the tenant holds no upload of, asks the agent to fetch and check it, never to take a cached copy', async () => {
    const { calls, call } = await start('cached');
    await call('PUT', '/v1/media/url-policy', admin, { allow: ['mirror.example.com'] });
    expect((await call('POST', '/v1/servers/web-01/media', operator, { url: 'http://mirror.example.com/rescue.iso', sha256 })).status).toBe(202);
    await waitFor('the fetch request', async () => calls.find((entry) => entry.op === 'media.fetch-url'));
    expect(calls.find((entry) => entry.op === 'media.fetch-url')?.params).toEqual({ serverId: 'web-01', url: 'http://mirror.example.com/rescue.iso', allow: ['mirror.example.com'], maxBytes: 1 << 30, sha256 });
  });

  it('fails the mount with the agent\'s code when the agent refuses a hop, and audits it as denied', async () => {
    const { calls, audits, call } = await start('refused');
    await call('PUT', '/v1/media/url-policy', admin, { allow: ['mirror.example.com'] });
    await call('POST', '/v1/servers/web-01/media', operator, { url: 'http://mirror.example.com/x.iso' });
    const failed = await waitFor('the failure', async () => {
      const state = (await call('GET', '/v1/servers/web-01/media', operator)).body as unknown as MediaState;
      return state.step === 'failed' ? state : undefined;
    });
    expect(failed).toMatchObject({ failedStep: 'transferring', error: { code: 'MEDIA_URL_NOT_ALLOWED' } });
    expect(calls.map((entry) => entry.op)).not.toContain('media.mount');
    expect(audits.find((event) => event.action === 'media.fetch-url')).toMatchObject({ outcome: 'denied', details: { code: 'MEDIA_URL_NOT_ALLOWED' } });
  });

  it('passes --replace on to the agent\'s mount and audits it; without it the agent is not asked to replace', async () => {
    const { calls, audits, call } = await start('cached');
    await call('PUT', '/v1/media/url-policy', admin, { allow: ['mirror.example.com'] });
    const mounted = async () =>
      waitFor('the mount', async () => {
        const state = (await call('GET', '/v1/servers/web-01/media', operator)).body as unknown as MediaState;
        return state.step === 'mounted' ? state : undefined;
      });
    await call('POST', '/v1/servers/web-01/media', operator, { url: 'http://mirror.example.com/rescue.iso' });
    await mounted();
    await call('POST', '/v1/servers/web-01/media', operator, { url: 'http://mirror.example.com/rescue.iso', replace: true });
    await waitFor('the second mount', () => calls.filter((entry) => entry.op === 'media.mount').length === 2);
    const mounts = calls.filter((entry) => entry.op === 'media.mount').map((entry) => entry.params as Record<string, unknown>);
    expect(mounts[0]).not.toHaveProperty('replace');
    expect(mounts[1]).toMatchObject({ serverId: 'web-01', sha256, replace: true });
    expect(audits.filter((event) => event.action === 'media.mount').map((event) => event.details?.['replace'])).toEqual([false, true]);
  });
});
