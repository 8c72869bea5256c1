import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageServer } from '@lightsout/lab/image-server';
import { loginWithPassword } from '@lightsout/relay/testing';
import type { MediaState } from '@lightsout/shared';
import { type MediaStack, PASSWORD, startMediaStack } from '../lib/media-stack.js';
import { eventually } from '../lib/processes.js';

/**
 * Mount by URL end to end: `lightsout media mount vm-01 http://…/rescue.iso
 * --boot` (the real CLI) → the relay (a process: the tenant's URL policy)
 * → the agent (a process: fetches from a real HTTP server on loopback,
 * every hop checked, a cut transfer resumed with Range) → the simulated
 * BMC, which downloads the image from the agent and boots from it.
 */
let stack: MediaStack;
let mirror: ImageServer;
let elsewhere: ImageServer;
let adminToken: string;
const image = randomBytes(5 * 1024 * 1024 + 321);
const sha256 = createHash('sha256').update(image).digest('hex');

beforeAll(async () => {
  stack = await startMediaStack();
  mirror = new ImageServer();
  await mirror.start();
  mirror.serve('/isos/rescue.iso', image);
  elsewhere = new ImageServer({ host: '127.0.0.2' });
  await elsewhere.start();
  elsewhere.serve('/rescue.iso', image);
  mirror.redirect('/moved.iso', `${elsewhere.url}/rescue.iso`);
  adminToken = (await loginWithPassword(stack.relayUrl, 'admin', PASSWORD)).accessToken;
}, 180_000);
afterAll(async () => {
  await elsewhere?.stop();
  await mirror?.stop();
  await stack?.stop();
});

async function setPolicy(allow: string[]): Promise<void> {
  const response = await fetch(`${stack.relayUrl}/v1/media/url-policy?tenant=demo`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ allow }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

async function fetchAudits(): Promise<{ action: string; outcome: string; details: Record<string, unknown> }[]> {
  const response = await fetch(`${stack.relayUrl}/v1/audit?limit=500`, { headers: { authorization: `Bearer ${adminToken}` } });
  const page = (await response.json()) as { records: { action: string; outcome: string; details: Record<string, unknown> }[] };
  return page.records.filter((record) => record.action === 'media.fetch-url');
}

describe('lightsout media mount SERVER URL → relay → agent → simulated BMC', () => {
  it('refuses every URL while the tenant allows no host', async () => {
    const result = await stack.cli(['media', 'mount', 'vm-01', `${mirror.url}/isos/rescue.iso`], 60_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^error MEDIA_URL_NOT_ALLOWED: .*allows no host/m);
    expect(mirror.requests).toEqual([]);
  }, 60_000);

  it('fetches from an allowed host, resumes the cut transfer with Range, mounts and boots from it', async () => {
    await setPolicy(['127.0.0.1']);
    mirror.cutOnce('/isos/rescue.iso', 1024 * 1024);
    const result = await stack.cli(['media', 'mount', 'vm-01', `${mirror.url}/isos/rescue.iso`, '--boot'], 120_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('vm-01: booting from virtual media\n');
    await eventually('the host to boot from the virtual CD', 20_000, async () => (stack.serial().includes('Booting from virtual CD: rescue.iso') ? true : undefined));
    expect(stack.bmc.host.virtualMedia).toMatchObject({ bytes: image.length });
    expect(mirror.requests.map((request) => request.status)).toEqual([200, 206]);
    expect(mirror.requests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);

    const state = JSON.parse((await stack.cli(['media', 'status', 'vm-01', '--json'])).stdout) as MediaState;
    expect(state).toMatchObject({ step: 'booting', image: { sha256, filename: 'rescue.iso', size: image.length, url: `${mirror.url}/isos/rescue.iso` }, mountedBy: 'operator' });
    const audits = await fetchAudits();
    expect(audits).toContainEqual(expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ sha256, resumes: 1, url: `${mirror.url}/isos/rescue.iso` }) }));
    expect((await stack.cli(['media', 'eject', 'vm-01'])).code).toBe(0);
  }, 180_000);

  it('stops at a redirect to a host the policy does not allow, asking that host nothing, and audits the refusal', async () => {
    const result = await stack.cli(['media', 'mount', 'vm-01', `${mirror.url}/moved.iso`], 60_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^error MEDIA_URL_NOT_ALLOWED: .*127\.0\.0\.2/m);
    expect(elsewhere.requests).toEqual([]);
    const audits = await fetchAudits();
    expect(audits).toContainEqual(expect.objectContaining({ outcome: 'denied', details: expect.objectContaining({ code: 'MEDIA_URL_NOT_ALLOWED', url: `${mirror.url}/moved.iso` }) }));
  }, 60_000);
});
