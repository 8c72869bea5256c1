import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PendingPower, type PowerOutcome, type ServerView, type SessionCreated, StreamClient } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { waitFor } from '@lightsout/lab/wait';
import { BMCSIM_CREDENTIALS, type Bmcsim, startBmcsim } from '../lib/bmcsim.js';
import { type Stack, startStack } from '../lib/stack.js';
import { nodeSocketFactory, sessionConnection } from '../lib/stream-socket.js';

/**
 * A server's live status is the same at every replica (processes on one
 * PostgreSQL: two managers behind one URL, as a load balancer would spread
 * a client over them, and one gateway holding the agent): a power action
 * accepted at one manager is pending, then confirmed, at the other (REST,
 * as `lightsout power cycle` polls, and its event feed); a console spliced
 * at the gateway counts on the server at both managers, and someone else
 * asking the other manager for it with control joins it (a takeover, audited
 * `session.join`); an image mounted
 * through one manager is the server's media badge at the other, and an
 * eject through that one clears it at the first.
 */
const postgres = postgresForThisFile();
const MANAGER = 0;
const OTHER_MANAGER = 1;
const GATEWAY = 2;

let directory: string;
let bmc: Bmcsim | undefined;
let echo: Awaited<ReturnType<typeof startSerialWebSocketEcho>> | undefined;
let stack: Stack | undefined;

async function api(index: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack!.relayUrls[index]}${path}`, {
    method,
    headers: { authorization: `Bearer ${await stack!.tokenAt(index)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const view = async (index: number, serverId: string) => (await api(index, 'GET', `/v1/servers/${serverId}`)).body as unknown as ServerView;
const until = (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => waitFor(what, check, { timeoutMs, intervalMs: 50 });

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-shared-status-'));
  bmc = await startBmcsim(directory, 'shared-status');
  echo = await startSerialWebSocketEcho();
  stack = await startStack([{ id: 'sim-01', ...bmc.endpoints }, { id: 'con-01', serial: { url: echo.url } }], {
    relays: 3,
    postgresUrl: postgres().url,
    roles: [{ role: 'manager' }, { role: 'manager' }, { role: 'gateway', region: 'eu' }],
    agentRelays: [GATEWAY],
    agentEnv: BMCSIM_CREDENTIALS.env,
    agentCredentials: BMCSIM_CREDENTIALS.entries,
  });
}, 180_000);
afterAll(async () => {
  await stack?.close();
  await bmc?.stop();
  await echo?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('a server’s live status is the same at every replica', () => {
  it('a power cycle accepted at one manager is pending at once, then confirmed, at the other: REST and its event feed', { timeout: 120_000 }, async () => {
    // A BMC refuses to cycle a host that is off (IPMI §28.3): start from on.
    await until(async () => (await api(MANAGER, 'POST', '/v1/servers/sim-01/power', { action: 'status' })).body['power'] === 'on', 'the host on', 30_000);
    const token = await stack!.tokenAt(OTHER_MANAGER);
    const feed = new WebSocket(`${stack!.relayUrls[OTHER_MANAGER]!.replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
    const seen: ServerView[] = [];
    let snapshot = false;
    feed.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; server?: ServerView };
      if (message.type === 'servers') snapshot = true;
      if (message.type === 'server' && message.server?.id === 'sim-01') seen.push(message.server);
    });
    try {
      await until(async () => snapshot, 'the feed snapshot');
      const cycle = await api(MANAGER, 'POST', '/v1/servers/sim-01/power', { action: 'cycle' });
      expect(cycle.status, JSON.stringify(cycle.body)).toBe(200);
      const pending = cycle.body['pending'] as PendingPower;
      expect(pending).toMatchObject({ action: 'cycle', target: 'on' });
      // What the CLI does next, behind a balancer: ask for the server, possibly at the other manager. No wait: the answer must already say pending.
      expect((await view(OTHER_MANAGER, 'sim-01')).pendingPower).toEqual(pending);
      const settled = (outcome: PowerOutcome | null | undefined) => outcome?.action === 'cycle' && Date.parse(outcome.at) >= Date.parse(pending.since);
      await until(async () => settled((await view(OTHER_MANAGER, 'sim-01')).lastPower), 'the other manager to report the cycle settled', 90_000);
      const after = await view(OTHER_MANAGER, 'sim-01');
      expect(after.pendingPower ?? null).toBeNull();
      expect(after.lastPower).toMatchObject({ action: 'cycle', target: 'on', confirmed: true });
      expect(await view(GATEWAY, 'sim-01')).toMatchObject({ pendingPower: null, lastPower: after.lastPower });
      // The other manager's feed told its subscribers both: pending, then the outcome.
      await until(async () => seen.some((server) => settled(server.lastPower) && server.lastPower?.confirmed === true), 'the feed to show the confirmed cycle');
      expect(seen.some((server) => server.pendingPower?.since === pending.since)).toBe(true);
    } finally {
      feed.close();
    }
  });

  it('a console spliced at the gateway counts on the server at both managers, and stops counting when it ends', { timeout: 60_000 }, async () => {
    const created = await api(MANAGER, 'POST', '/v1/servers/con-01/sessions', { kind: 'serial' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const session = created.body as unknown as SessionCreated;
    let closed: string | undefined;
    const client = new StreamClient({ ...sessionConnection(session, nodeSocketFactory()), onData: () => undefined, onClose: (code, reason) => (closed = `${code} ${reason}`) });
    await until(async () => client.state === 'streaming' || closed !== undefined, 'the console streaming', 30_000);
    expect(closed).toBeUndefined();
    try {
      for (const index of [MANAGER, OTHER_MANAGER, GATEWAY]) await until(async () => (await view(index, 'con-01')).sessions === 1, `relay ${index} to count the console`);
      // Someone else asking the other manager for that console with control joins a console held at the gateway: audited as a join (a takeover).
      const adminToken = await stack!.tokenAt(OTHER_MANAGER, 'admin');
      const joined = await fetch(`${stack!.relayUrls[OTHER_MANAGER]}/v1/servers/con-01/sessions`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'serial', mode: 'control' }) });
      expect(joined.status, await joined.clone().text()).toBe(201);
      // The relay audits a request once its answer is sent (onResponse), so the join's record may land just after the 201.
      const actions = async () => {
        const audit = await fetch(`${stack!.relayUrls[MANAGER]}/v1/audit?order=asc&server=con-01&limit=500`, { headers: { authorization: `Bearer ${adminToken}` } });
        return ((await audit.json()) as { records: Array<{ action: string }> }).records.map((record) => record.action);
      };
      await until(async () => (await actions()).length >= 2, 'the join to be audited');
      expect(await actions()).toEqual(['session.open', 'session.join']);
    } finally {
      await client.leave();
    }
    for (const index of [MANAGER, OTHER_MANAGER, GATEWAY]) await until(async () => ((await view(index, 'con-01')).sessions ?? 0) === 0, `relay ${index} to stop counting it`);
  });

  it('an image mounted through one manager shows on the server at the other; an eject through the other clears it at the first', { timeout: 120_000 }, async () => {
    // A 1 MiB image with the ISO 9660 primary volume descriptor magic at sector 16.
    const image = Buffer.alloc(1024 * 1024);
    for (let index = 0; index < image.length; index += 1) image[index] = (index * 31) & 0xff;
    image.set([0x01, 0x43, 0x44, 0x30, 0x30, 0x31, 0x01], 16 * 2048);
    const token = await stack!.tokenAt(MANAGER);
    const tus = { 'Tus-Resumable': '1.0.0', authorization: `Bearer ${token}` };
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const created = await fetch(`${stack!.relayUrls[MANAGER]}/v1/media/uploads`, {
      method: 'POST',
      headers: { ...tus, 'Upload-Length': String(image.length), 'Upload-Metadata': `filename ${b64('shared.iso')},sha256 ${b64(createHash('sha256').update(image).digest('hex'))},server ${b64('sim-01')}` },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const location = created.headers.get('location')!;
    const sent = await fetch(location, { method: 'PATCH', headers: { ...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: image });
    expect(sent.status, await sent.clone().text()).toBe(204);
    const mount = await api(MANAGER, 'POST', '/v1/servers/sim-01/media', { uploadId: location.split('/').pop() });
    expect(mount.status, JSON.stringify(mount.body)).toBe(202);
    await until(async () => (await view(OTHER_MANAGER, 'sim-01')).media?.filename === 'shared.iso', 'the other manager to show the image mounted', 60_000);
    const eject = await api(OTHER_MANAGER, 'DELETE', '/v1/servers/sim-01/media');
    expect(eject.status, JSON.stringify(eject.body)).toBe(200);
    await until(async () => (await view(MANAGER, 'sim-01')).media === null, 'the first manager to show no image', 30_000);
  });
});
