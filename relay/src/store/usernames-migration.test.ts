import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createUser } from '../identity/accounts.js';
import { postgresForThisFile } from '../testing/dialects.js';
import type { Database } from './database.js';
import { type StoreDriver, migrationProvider } from './migrations.js';
import { type Store, openStore } from './open.js';

/**
 * Usernames went from unique everywhere to unique per tenant. An install
 * made before that keeps every account, column for column, and gains the
 * per-tenant rule.
 */
const directory = mkdtempSync(join(tmpdir(), 'lightsout-usernames-'));
const postgres = postgresForThisFile();
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const BEFORE = '0008-agent-tenant-binding';

function rawStore(driver: StoreDriver): Store {
  if (driver === 'postgres') return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgres().url, max: 2 }) }) });
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(directory, 'relay.sqlite')) }) });
}

const reopen = (driver: StoreDriver) =>
  driver === 'postgres' ? openStore({ dataDir: directory, store: { driver, sqliteFile: 'unused', postgresUrl: postgres().url } }) : openStore({ dataDir: directory, store: { driver, sqliteFile: 'relay.sqlite' } });

describe.each(['sqlite', 'postgres'] as const)('usernames per tenant on %s', (driver) => {
  it('keeps the accounts of an older store, then allows a name once per tenant', async () => {
    const old = rawStore(driver);
    const migrated = await new Migrator({ db: old, provider: migrationProvider(driver) }).migrateTo(BEFORE);
    expect(migrated.error).toBeUndefined();
    for (const id of ['demo', 'bravo']) await old.insertInto('tenants').values({ id, name: id, created_at: 1 }).execute();
    const alice = { id: 'u-alice', tenant_id: 'demo', username: 'alice', password_hash: 'scrypt$kept', role: 'operator', disabled: 0, created_at: 2, totp_secret: 'sealed-secret', credentials_changed_at: 3 };
    await old.insertInto('users').values(alice as never).execute();
    await old.destroy();

    const store = await reopen(driver);
    try {
      expect(await store.selectFrom('users').selectAll().where('id', '=', 'u-alice').executeTakeFirst()).toMatchObject(alice);
      await createUser(store, { tenant: 'bravo', username: 'alice', password: 'pw-bravo-alice', role: 'viewer' });
      await expect(createUser(store, { tenant: 'demo', username: 'alice', password: 'pw-second', role: 'viewer' })).rejects.toThrow();
      expect((await store.selectFrom('users').select('tenant_id').where('username', '=', 'alice').orderBy('tenant_id').execute()).map((row) => row.tenant_id)).toEqual(['bravo', 'demo']);
    } finally {
      await store.destroy();
    }
  }, 60_000);
});
