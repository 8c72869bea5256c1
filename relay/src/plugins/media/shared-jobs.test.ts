import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LightsoutError, type MediaState } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import pino from 'pino';
import { SharedMediaJobs } from '../../inventory/live-status.js';
import { type Store, openStore } from '../../store/open.js';
import { postgresForThisFile } from '../../testing/dialects.js';
import type { MediaDependencies } from './dependencies.js';
import { MediaJobs, type MountSource } from './jobs.js';
import type { UploadRecord } from './uploads.js';

/**
 * Two relays (two connections to one PostgreSQL, each with its own
 * MediaJobs) and one agent: a mount run by one relay shows its progress at
 * the other, which refuses a second mount or an eject until it settles; a
 * relay that dies mid-job frees the server when its lease passes.
 */
const postgres = postgresForThisFile();
const server = { id: 'web-01', tenant: 'demo', agentId: 'agent-a', capabilities: ['power', 'media'], endpoints: { redfish: 'https://10.0.0.5' } };
const caller = { subject: 'olga', username: 'olga', tenant: 'demo', role: 'operator' as const };
const record = { id: 'upload-1', tenant: 'demo', sha256: 'a'.repeat(64), filename: 'rescue.iso', size: 1000, offset: 1000, verified: true } as unknown as UploadRecord;
const upload: MountSource = { kind: 'upload', record };

/** The agent: the transfer advances when the test says, then the mount completes at once. */
function scriptedAgent() {
  const agent = { bytes: 0, cached: false, mounted: false, ops: [] as string[] };
  const requestAgent = (async (_agentId: string, op: string) => {
    agent.ops.push(op);
    switch (op) {
      case 'media.fetch':
        return { cached: false };
      case 'media.status':
        return {
          transfer: { sha256: record.sha256, state: agent.cached ? 'cached' : 'fetching', bytes: agent.bytes, size: record.size },
          mount: agent.mounted ? { sha256: record.sha256, filename: 'rescue.iso', mountedAt: new Date().toISOString(), mountedBy: 'olga', autoEjectAt: null } : null,
          job: agent.mounted ? { step: 'mounted', failedStep: null, error: null, quirks: [], powerAction: null } : null,
        };
      case 'media.mount':
        agent.mounted = true;
        return { step: 'mounted', failedStep: null, error: null, quirks: [], powerAction: null };
      case 'media.eject':
        agent.mounted = false;
        return { ejected: 'rescue.iso' };
      default:
        throw new LightsoutError('BMC_UNSUPPORTED', op);
    }
  }) as MediaDependencies['requestAgent'];
  return { agent, requestAgent };
}

describe('virtual media jobs shared by two relays on PostgreSQL', () => {
  const stores: Store[] = [];
  const relays: MediaJobs[] = [];
  const script = scriptedAgent();

  const relay = async (leaseMs: number) => {
    const store = await openStore({ dataDir: '/nonexistent', store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
    stores.push(store);
    const jobs = new MediaJobs({
      dependencies: { findServer: async () => server, requestAgent: script.requestAgent, verifyAgentToken: async () => 'agent-a' },
      log: pino({ level: 'silent' }),
      pollIntervalMs: 10,
      stallTimeoutMs: 60_000,
      mountTimeoutMs: 60_000,
      requestTimeoutMs: 1000,
      uploadState: async () => ({ verified: true, offset: record.size }),
      shared: new SharedMediaJobs(store),
      leaseMs,
    });
    relays.push(jobs);
    return jobs;
  };
  const refusal = async (attempt: Promise<unknown>) => {
    const error = await attempt.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(LightsoutError);
    return error as LightsoutError;
  };

  beforeAll(async () => {
    const first = await openStore({ dataDir: '/nonexistent', store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
    stores.push(first);
    await first.insertInto('tenants').values({ id: 'demo', name: 'Demo', created_at: 1 }).execute();
    await first.insertInto('agents').values({ id: 'agent-a', name: 'agent-a', region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1 }).execute();
    await first.insertInto('servers').values({ id: 'web-01', name: 'web-01', tenant_id: 'demo', region: 'eu', datacenter: 'fra1', rack: 'r1', labels: '{}', endpoints: '{}', capabilities: '[]', agent_id: 'agent-a', power: 'on', reachable: 1, state_at: 1, updated_at: 1 }).execute();
  });
  afterAll(async () => {
    for (const jobs of relays) await jobs.stop();
    for (const store of stores) await store.destroy();
  });

  it('one relay’s mount: the other shows its progress, refuses a second mount and an eject, and sees it mounted once it settles', async () => {
    const a = await relay(30_000);
    const b = await relay(30_000);
    expect((await a.start(server, caller, upload, { boot: false })).step).toBe('transferring');
    script.agent.bytes = 400;
    const seen = await waitFor('the transfer’s progress at the other relay', async () => {
      const state = await b.status(server);
      return state.step === 'transferring' && state.progress?.bytes === 400 ? state : undefined;
    });
    expect(seen).toMatchObject({ image: { filename: 'rescue.iso', size: 1000 }, mountedBy: 'olga', progress: { bytes: 400, total: 1000 } });
    const second = await refusal(b.start(server, caller, upload, { boot: false }));
    expect(second.code).toBe('CONFLICT');
    expect(second.message).toContain('through another relay');
    expect((await refusal(b.eject(server))).code).toBe('CONFLICT');

    script.agent.cached = true;
    await waitFor('the mount to settle at the relay running it', async () => ((await a.status(server)).step === 'mounted' ? true : undefined));
    expect(await b.status(server)).toMatchObject({ step: 'mounted', image: { sha256: record.sha256, filename: 'rescue.iso' }, mountedBy: 'olga' });
    // settled: the other relay may eject it now, and then the first one shows that
    expect((await b.eject(server)).message).toBe('ejected rescue.iso');
    expect((await a.status(server)).step).toBe('idle');
  });

  it('a relay that dies mid-job frees the server when its lease passes; its later writes change nothing', async () => {
    script.agent.bytes = 0;
    script.agent.cached = false;
    script.agent.mounted = false;
    const dying = await relay(600);
    const other = await relay(600);
    await dying.start(server, caller, upload, { boot: false });
    expect((await refusal(other.start(server, caller, upload, { boot: false }))).code).toBe('CONFLICT');
    // "dies": its connection goes first, so nothing it does afterwards reaches the store (as after a kill -9)
    const shared = new SharedMediaJobs(stores[0]!);
    const held = (await shared.read(server.id))!;
    await stores.splice(stores.length - 2, 1)[0]!.destroy();
    await dying.stop();
    await waitFor('the lease to pass', async () => (Date.now() > held.until ? true : undefined));
    const shown: MediaState = await other.status(server);
    expect(shown.step).toBe('idle');
    expect((await other.start(server, caller, upload, { boot: false })).step).toBe('transferring');
    // the dead owner's name no longer holds the row
    expect(await shared.write(server.id, held.owner, { ...held.state, step: 'failed' }, 0)).toBeUndefined();
    expect((await shared.read(server.id))!.owner).not.toBe(held.owner);
    script.agent.cached = true;
    await waitFor('the new job to settle', async () => ((await other.status(server)).step === 'mounted' ? true : undefined));
  });
});
