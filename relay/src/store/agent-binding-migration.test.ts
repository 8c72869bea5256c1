import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '../testing/dialects.js';
import type { Database } from './database.js';
import { type StoreDriver, migrationProvider } from './migrations.js';
import { type Store, openStore } from './open.js';

/**
 * A join token used to be allowed to name no tenant, and its agent then
 * registered servers into any. An install made before every agent had to be
 * bound keeps what its agents registered — each is bound to the tenants it
 * holds servers in — and an agent holding none is bound to none (a provider
 * admin names its tenants: `PUT /v1/agents/:id/tenants`).
 */
const directory = mkdtempSync(join(tmpdir(), 'lightsout-agent-binding-'));
const postgres = postgresForThisFile();
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const BEFORE = '0017-media-url-policies';

function rawStore(driver: StoreDriver): Store {
  if (driver === 'postgres') return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgres().url, max: 2 }) }) });
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(directory, 'relay.sqlite')) }) });
}

const reopen = (driver: StoreDriver) =>
  driver === 'postgres' ? openStore({ dataDir: directory, store: { driver, sqliteFile: 'unused', postgresUrl: postgres().url } }) : openStore({ dataDir: directory, store: { driver, sqliteFile: 'relay.sqlite' } });

const agent = (id: string, tenants: string | null) => ({ id, name: id, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1, tenants });
const server = (id: string, tenant: string, agentId: string) => ({ id, name: id, tenant_id: tenant, region: 'eu', datacenter: 'fra1', rack: 'r1', labels: '{}', endpoints: '{}', capabilities: '[]', agent_id: agentId, power: 'unknown', reachable: null, state_at: null, updated_at: 1 });

describe.each(['sqlite', 'postgres'] as const)('agent tenant binding of an older store on %s', (driver) => {
  it('binds each unbound agent to the tenants of its servers, and one without servers to none', async () => {
    const old = rawStore(driver);
    const migrated = await new Migrator({ db: old, provider: migrationProvider(driver) }).migrateTo(BEFORE);
    expect(migrated.error).toBeUndefined();
    for (const id of ['demo', 'bravo', 'charlie']) await old.insertInto('tenants').values({ id, name: id, created_at: 1 }).execute();
    await old.insertInto('regions').values({ id: 'eu', created_at: 1 }).execute();
    await old.insertInto('datacenters').values({ id: 'fra1', region: 'eu', created_at: 1 }).execute();
    await old.insertInto('agents').values([agent('a-any', null), agent('a-empty', null), agent('a-bound', '["charlie"]')] as never).execute();
    await old.insertInto('servers').values([server('s1', 'demo', 'a-any'), server('s2', 'bravo', 'a-any'), server('s3', 'demo', 'a-any'), server('s4', 'charlie', 'a-bound')] as never).execute();
    await old.insertInto('join_tokens').values({ token_hash: 'h', region: 'eu', datacenter: 'fra1', created_by: 'x', created_at: 1, expires_at: Date.now() + 60_000, used_at: null, used_by_agent: null, tenants: null }).execute();
    await old.destroy();

    const store = await reopen(driver);
    try {
      const rows = await store.selectFrom('agents').select(['id', 'tenants']).orderBy('id').execute();
      expect(rows.map((row) => [row.id, row.tenants === null ? null : JSON.parse(row.tenants)])).toEqual([
        ['a-any', ['bravo', 'demo']],
        ['a-bound', ['charlie']],
        ['a-empty', []],
      ]);
      expect((await store.selectFrom('join_tokens').select('tenants').executeTakeFirstOrThrow()).tenants).toBe('[]');
    } finally {
      await store.destroy();
    }
  }, 60_000);
});
