import { mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { RelayConfig } from '../config/schema.js';
import type { Database } from './database.js';
import { migrationProvider } from './migrations.js';

export type Store = Kysely<Database>;

/** Open the configured database and bring its schema up to date. */
export async function openStore(config: Pick<RelayConfig, 'store' | 'dataDir'>, onConnectionError: (error: Error) => void = () => undefined): Promise<Store> {
  let db: Store;
  if (config.store.driver === 'postgres') {
    // int8 (bigint) columns hold epoch milliseconds: well inside 2^53.
    pg.types.setTypeParser(20, (value) => Number(value));
    const pool = new pg.Pool({ connectionString: config.store.postgresUrl, max: 10 });
    // An idle client losing its server emits 'error' on the pool; unhandled, that would end the process.
    pool.on('error', onConnectionError);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const file = isAbsolute(config.store.sqliteFile) ? config.store.sqliteFile : join(config.dataDir, config.store.sqliteFile);
    const sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  const migrator = new Migrator({ db, provider: migrationProvider(config.store.driver) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    await db.destroy();
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new LightsoutError('INTERNAL', `store migration ${failed} failed`, { cause: error });
  }
  return db;
}

export async function pingStore(db: Store): Promise<void> {
  await sql`select 1`.execute(db);
}
