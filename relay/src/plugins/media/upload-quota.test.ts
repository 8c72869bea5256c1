import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@tus/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../store/open.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../../testing/index.js';
import { postgresForThisFile } from '../../testing/dialects.js';
import { ScriptedAgent } from '../../testing/scripted-agent.js';
import { type AgentUploadRow, AgentUploads } from './agent-uploads.js';

/**
 * A tenant's media quota (64 GiB by default, 16 GiB at most per upload)
 * holds when uploads are created at once: the room left is read and taken
 * in one step, so concurrent creations cannot each see the same room.
 */
const GIB = 1024 ** 3;
const postgres = postgresForThisFile();
const directory = mkdtempSync(join(tmpdir(), 'lightsout-quota-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('uploads created at once through one relay', () => {
  let relay: RunningRelay;
  let agent: ScriptedAgent;
  let operator: string;
  beforeAll(async () => {
    relay = await startRelay();
    const admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
    agent = await ScriptedAgent.start(relay.url, admin, [{ id: 'quota-1', name: 'quota-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623', redfish: 'https://127.0.0.1:8443' }, capabilities: ['power', 'media'] as never[] }]);
    operator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await relay?.close();
  });

  it('ten 16 GiB uploads created at once: the four that fit the 64 GiB quota are created, six are refused QUOTA_EXCEEDED', async () => {
    const metadata = Metadata.stringify({ filename: 'big.iso', sha256: 'cd'.repeat(32), server: 'quota-1' });
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const response = await fetch(`${relay.url}/v1/media/uploads`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'tus-resumable': '1.0.0', 'upload-length': String(16 * GIB), 'upload-metadata': metadata } });
        const text = await response.text();
        return response.status === 201 ? 'created' : (JSON.parse(text) as { code: string }).code;
      }),
    );
    expect({ created: answers.filter((answer) => answer === 'created').length, refused: answers.filter((answer) => answer === 'QUOTA_EXCEEDED').length }).toEqual({ created: 4, refused: 6 });
  });
});

describe('uploads created at once through two replicas (postgres)', () => {
  it('two stores taking rows for one tenant at once never go past its quota together', async () => {
    const config = { dataDir: directory, store: { driver: 'postgres' as const, sqliteFile: 'unused', postgresUrl: postgres().url } };
    const [first, second] = [await openStore(config), await openStore(config)];
    try {
      await first.insertInto('tenants').values({ id: 'demo', name: 'Demo', created_at: 1 }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
      await first.insertInto('agents').values({ id: 'agent-q', name: 'agent-q', region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1 }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
      const replicas = [new AgentUploads(first, 'postgres'), new AgentUploads(second, 'postgres')];
      const row = (index: number): AgentUploadRow => ({ id: `quota-row-${index}`, tenant_id: 'demo', subject: 'u', username: 'u', filename: 'big.iso', sha256: 'ef'.repeat(32), size: 16 * GIB, server_id: 'quota-1', agent_id: 'agent-q', verified: 0, created_at: Date.now() });
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, index) => replicas[index % 2]!.createWithinQuota(row(index), 64 * GIB, 0)));
      expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(4);
      const { total } = await first.selectFrom('media_uploads').select((expression) => expression.fn.sum<number>('size').as('total')).where('tenant_id', '=', 'demo').executeTakeFirstOrThrow();
      expect(Number(total)).toBe(64 * GIB);
    } finally {
      await first.destroy();
      await second.destroy();
    }
  });
});
